"""Real-browser tests: pytest-playwright drives Debian's chromium against `streamlit run app.py` on localhost.

The server runs offline (``TERRITORY_GEO_OFFLINE=1``: no basemap tiles) on a private store. Screenshots are written to
``test-results/`` for a person to look at.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-results"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
                       reason="Debian chromium is not installed (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The streamlit server's private temp folder (its TMPDIR)."""
    return tmp_path_factory.mktemp("server_tmp")


@pytest.fixture(scope="module")
def streamlit_url(tmp_path_factory: pytest.TempPathFactory, server_tmpdir: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port, offline, with its own store and temp folder."""
    port = _free_port()
    env = {**os.environ, "TERRITORY_GEO_OFFLINE": "1", "TMPDIR": str(server_tmpdir),
           "TERRITORY_GEO_STORE": str(tmp_path_factory.mktemp("store") / "store.sqlite")}
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's chromium, headless, with the background-network features off (the machine has no internet)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


@pytest.fixture
def page(page):  # type: ignore[no-untyped-def]
    """Playwright's page, wide enough for the sidebar and map, failing on any external request."""
    page.set_viewport_size({"width": 1400, "height": 1100})
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:",
                                                                                "blob:", "ws://127.0.0.1"))
            else None)
    yield page
    assert not external, f"the app fetched from outside localhost: {external[:5]}"


def _tier_pixels(png: bytes) -> tuple[int, int]:
    """Count pixels close to the tier A (dark red) and tier C (blue) colours."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    a = (np.abs(r - 178) < 30) & (g < 70) & (np.abs(b - 43) < 35)
    c = (np.abs(r - 103) < 30) & (np.abs(g - 169) < 30) & (np.abs(b - 207) < 30)
    return int(a.sum()), int(c.sum())


def test_demo_loads_and_shows_the_tier_map(page, streamlit_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(streamlit_url)
    page.get_by_text("Dataset summary").wait_for(timeout=120_000)
    # the first metric is the account count; wait for the render to settle (an element of the previous run can
    # still be on screen for a moment: CI once read 2,239 here)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("6,000", timeout=30_000)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Accounts map").click()
    chart = page.get_by_test_id("stDeckGlJsonChart")
    chart.locator("canvas").first.wait_for(timeout=120_000)
    page.wait_for_timeout(4000)  # let deck.gl draw the layers
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "accounts_map.png"))
    a_pixels, c_pixels = _tier_pixels(chart.screenshot())
    assert a_pixels > 50, "no tier A points drawn"
    assert c_pixels > 50, "no tier C points drawn"
    assert page.get_by_text("Why this score?").is_visible()


def test_bad_upload_reports_rows_and_renders_names_literally(page, streamlit_url: str,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    bad = tmp_path / "crm_export.csv"
    bad.write_text("Account ID,Account Name,Billing Zip/Postal Code,ARR\n"
                   "A1,<img src=x onerror=alert(1)>,2134,250000\n"
                   "A2,Nowhere Inc,99999,100\n"
                   "A3,Minus LLC,30303,-5\n")
    page.goto(streamlit_url)
    page.get_by_text("Your files").wait_for(timeout=120_000)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(bad))
    page.get_by_text("crm_export.csv").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Load files").click()
    page.get_by_text("2 of 3 account rows in crm_export.csv were quarantined", exact=False).wait_for(timeout=120_000)
    page.get_by_role("tab", name="Validation report").click()
    # the issue grid is a canvas; its accessible cells are in the DOM but not "visible"
    page.get_by_text("Unknown ZIP code, and the account has no coordinates.").first.wait_for(state="attached",
                                                                                           timeout=30_000)
    page.get_by_text("'ARR' is negative.").first.wait_for(state="attached", timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "validation_report.png"), full_page=True)

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Accounts map").click()
    page.get_by_text("<img src=x onerror=alert(1)>", exact=True).first.wait_for(timeout=120_000)
    assert page.locator("img[src='x']").count() == 0
    assert not dialogs


def _blue_pixels(png: bytes) -> int:
    """Pixels of the reach map's blues (the 30/60/90-minute areas over the plain offline background)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = ((b - r) > 40) & (b > 120) & (g < b)
    return int(blue.sum())


def test_drive_time_page_reads_an_uploaded_osm_file_and_draws_reach(  # type: ignore[no-untyped-def]
        page, streamlit_url: str) -> None:
    page.goto(streamlit_url)
    page.get_by_text("Dataset summary").wait_for(timeout=120_000)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Drive time").click()
    page.get_by_text("every drive time on this page is", exact=False).first.wait_for(timeout=120_000)
    page.get_by_text("Road graph file", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(ROOT / "tests" / "data" /
                                                                                 "tiny_roads.osm"))
    page.get_by_text("Road graph tiny_roads.osm:", exact=False).first.wait_for(timeout=120_000)
    page.get_by_text("lie outside the road graph", exact=False).first.wait_for(timeout=120_000)
    chart = page.get_by_test_id("stDeckGlJsonChart")
    chart.locator("canvas").first.wait_for(timeout=120_000)
    page.wait_for_timeout(4000)  # let deck.gl draw the layers
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "drive_time.png"), full_page=True)
    assert _blue_pixels(chart.screenshot()) > 500, "no reachable areas drawn"
    assert page.get_by_text("Reps over the red line").is_visible()
    with page.expect_download(timeout=120_000) as download:  # the per-account matrix is built on the click
        page.get_by_role("button", name="matrix_accounts.csv (rep → account)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "rep_id,target_id,minutes,source"
    assert len(lines) == 1 + 15 * 6000
    assert {line.rsplit(",", 1)[1] for line in lines[1:]} == {"graph", "estimated"}


def _palette_hits(png: bytes, palette: list[list[int]], alpha: float = 170 / 255) -> int:
    """How many of the palette's territory colours appear (blended at the map's fill opacity over any background
    brightness) on at least 200 pixels of the screenshot."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int).reshape(-1, 3)
    hits = 0
    for colour in palette:
        c = np.array(colour)
        # fill = alpha * colour + (1 - alpha) * background; the background is a plain light or dark grey offline
        for background in (255, 240, 30):
            expected = alpha * c + (1 - alpha) * background
            if int((np.abs(rgb - expected).max(axis=1) < 12).sum()) >= 200:
                hits += 1
                break
    return hits


def test_territories_page_designs_compares_and_exports(  # type: ignore[no-untyped-def]
        page, streamlit_url: str) -> None:
    """Design the demo's four scenarios, check the comparison and the map, and download the evenness plan's
    territories (RFC 7946 GeoJSON) and metrics (the CLI's metrics.json contract)."""
    import json

    from ui.maps import TERRITORY_COLORS

    page.goto(streamlit_url)
    page.get_by_text("Dataset summary").wait_for(timeout=120_000)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Territories").click()
    page.get_by_text("nothing is designed until then", exact=False).wait_for(timeout=120_000)
    page.get_by_role("button", name="Design", exact=True).click()  # the page designs only on its button
    page.get_by_text("Designed 4 scenario(s).").wait_for(timeout=300_000)
    page.get_by_text("Scenario comparison").wait_for(timeout=60_000)
    # the comparison table is a canvas grid; each scenario's verdict is text, and on the demo every scenario
    # (min disruption too, from the legacy design's 267 % max deviation) reaches its tolerance
    for label in ("A · Max revenue evenness", "B · Min disruption", "C · Max rep proximity",
                  "D · Balanced blend (40/30/30)"):
        # the verdict is shown under the comparison and again for the plan inspected (the first scenario)
        page.get_by_text(f"{label}: All 15 territories are within", exact=False).first.wait_for(timeout=60_000)
    chart = page.get_by_test_id("stDeckGlJsonChart")
    chart.locator("canvas").first.wait_for(timeout=120_000)
    page.wait_for_timeout(4000)  # let deck.gl draw the ZIP areas
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "territories.png"), full_page=True)
    drawn = chart.screenshot()
    (SHOTS / "territories_map.png").write_bytes(drawn)  # the page scrolls inside; the map on its own
    assert _palette_hits(drawn, [list(c) for c in TERRITORY_COLORS[:15]]) >= 10, \
        "fewer than 10 of the 15 territories' colours are on the map"

    with page.expect_download(timeout=120_000) as download:  # built on the click (dissolves every ZIP)
        page.get_by_role("button", name="territories.geojson").click()
    collection = json.loads(Path(download.value.path()).read_text())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection  # RFC 7946: WGS 84 only
    assert len(collection["features"]) == 15
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in collection["features"])
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="metrics.json").click()
    record = json.loads(Path(download.value.path()).read_text())
    for key in ("cv_potential", "max_dev_potential", "n_noncontiguous", "pp_mean", "runtime_s", "territories"):
        assert key in record
    assert record["n_noncontiguous"] == 0 and len(record["territories"]) == 15


# --- hostile input: file names that point elsewhere, Markdown in user text ----------------------------------------


def _small_georgia(marker: str, n_accounts: int = 300) -> tuple[bytes, bytes, bytes]:
    """(accounts.csv, reps.csv, zip_areas.geojson) for a few hundred of the demo's Georgia accounts, its four Georgia
    reps, and the Voronoi ZIP areas of their ZIPs as a GeoJSON file (each feature carries ``marker``, so a copy of
    the upload anywhere on disk can be found)."""
    import pandas as pd

    from territory_geo import units

    accounts = pd.read_csv(ROOT / "data/demo/accounts.csv", dtype=str, keep_default_na=False)
    accounts = accounts[accounts["Billing State/Province"] == "GA"].head(n_accounts)
    reps = pd.read_csv(ROOT / "data/demo/reps.csv", dtype=str, keep_default_na=False)
    reps = reps[reps["Rep ID"].isin(["R01", "R02", "R03", "R04"])]
    areas = units.voronoi_zip_areas(("GA",))
    areas = areas[areas.index.isin(set(accounts["Billing Zip/Postal Code"]) | set(reps["Home ZIP"]))]
    areas = areas.to_crs("EPSG:4326").reset_index().assign(marker=marker)
    return (accounts.to_csv(index=False).encode(), reps.to_csv(index=False).encode(),
            areas.to_json(drop_id=True).encode())


def _wait_for_uploads(page, count: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``count`` files sit in the uploaders, none still uploading (a form submitted earlier would
    leave the slower ones out)."""
    expect(page.get_by_test_id("stFileChip")).to_have_count(count, timeout=60_000)
    expect(page.get_by_test_id("stFileChipIconSpinner")).to_have_count(0, timeout=60_000)


def _files_holding(marker: bytes, roots: list[Path], since: float) -> list[Path]:
    """Regular files under ``roots`` modified after ``since`` whose bytes contain ``marker``."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            try:
                if path.is_file() and path.stat().st_mtime >= since and marker in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


HOSTILE_NAMES = (
    "../../../../tmp/tg-traversal-{uid}.geojson",
    "/tmp/tg-absolute-{uid}.geojson",
    "..\\..\\tg-backslash-{uid}.geojson",
    "tg-" + "x" * 300 + "-{uid}.geojson",
    "Zoné_ü_ÿ-{uid}.geojson",
    "tg-nul-\x00-{uid}.geojson",
)


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_an_uploaded_zip_areas_file_is_never_written_where_its_name_points(  # type: ignore[no-untyped-def]
        page, streamlit_url: str, server_tmpdir: Path, hostile: str) -> None:
    """The ZIP-areas upload's file name comes from the client: whatever it says, the bytes are read from a fixed
    temp file that is gone afterwards, and nothing appears where the name points (or anywhere else in /tmp)."""
    import uuid

    uid = uuid.uuid4().hex[:12]
    name = hostile.format(uid=uid)
    accounts, reps, areas = _small_georgia(marker=f"marker-{uid}")
    started = time.time() - 1
    page.goto(streamlit_url)
    page.get_by_text("Your files").wait_for(timeout=120_000)
    inputs = page.get_by_test_id("stFileUploaderDropzoneInput")
    inputs.nth(0).set_input_files({"name": "accounts.csv", "mimeType": "text/csv", "buffer": accounts})
    inputs.nth(1).set_input_files({"name": "reps.csv", "mimeType": "text/csv", "buffer": reps})
    inputs.nth(3).set_input_files({"name": name, "mimeType": "application/geo+json", "buffer": areas})
    _wait_for_uploads(page, 3)
    page.get_by_role("button", name="Load files").click()
    if "\x00" in name:  # Streamlit refuses the name itself: a clear message, not a traceback, and no file
        page.get_by_text("was refused: its name must end in", exact=False).first.wait_for(timeout=120_000)
        assert page.get_by_test_id("stException").count() == 0
    else:
        page.get_by_text("from your polygon file", exact=False).first.wait_for(timeout=120_000)
        assert page.get_by_text("300", exact=True).first.is_visible()  # the accounts metric: the upload was used

    for pointed in (Path("/tmp") / f"tg-traversal-{uid}.geojson", Path("/tmp") / f"tg-absolute-{uid}.geojson",
                    ROOT.parent / f"tg-backslash-{uid}.geojson"):
        assert not pointed.exists(), pointed
    holders = [path for path in _files_holding(f"marker-{uid}".encode(), [Path("/tmp"), server_tmpdir, ROOT], started)
               if not path.name.startswith("store.sqlite")]  # the working copy kept in the store, by design
    assert not holders, f"the upload was left on disk: {holders}"


def _beacon_server() -> tuple[str, list[str], object]:
    """A localhost HTTP server that records every request path (a Markdown image pointing at it must never load)."""
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", hits, server


def test_user_text_renders_literally_and_fetches_nothing(page, streamlit_url: str) -> None:  # type: ignore[no-untyped-def]
    """Markdown in user text (column names of a refused file, file names, dataset names typed on Home, rep ids and
    names) shows as typed on every page, and no image in it is ever requested."""
    import pandas as pd

    base, hits, server = _beacon_server()
    try:
        column = f"![col]({base}/column.png)"
        refused = f"{column},Notes\n1,2\n".encode()
        page.goto(streamlit_url)
        page.get_by_text("Your files").wait_for(timeout=120_000)
        inputs = page.get_by_test_id("stFileUploaderDropzoneInput")
        inputs.nth(0).set_input_files({"name": "refused.csv", "mimeType": "text/csv", "buffer": refused})
        _wait_for_uploads(page, 1)
        page.get_by_role("button", name="Load files").click()
        page.get_by_text("This dataset cannot be used yet").wait_for(timeout=120_000)
        page.get_by_role("tab", name="Validation report").click()
        page.get_by_text(f"(found: {column}, Notes)", exact=False).first.wait_for(timeout=60_000)

        accounts, reps, _ = _small_georgia(marker="beacon")
        frame = pd.read_csv(io.BytesIO(reps), dtype=str, keep_default_na=False)
        rep_id, rep_name = f"![id]({base}/rep-id.png)", f"**Bold** ![name]({base}/rep-name.png)"
        frame.loc[frame["Rep ID"] == "R02", ["Rep ID", "Name"]] = [rep_id, rep_name]
        file_name = f"![file]({base}/file-name.png).csv"
        page.goto(streamlit_url)
        page.get_by_text("Your files").wait_for(timeout=120_000)
        inputs = page.get_by_test_id("stFileUploaderDropzoneInput")
        inputs.nth(0).set_input_files({"name": file_name, "mimeType": "text/csv", "buffer": accounts})
        inputs.nth(1).set_input_files({"name": "reps.csv", "mimeType": "text/csv",
                                       "buffer": frame.to_csv(index=False).encode()})
        _wait_for_uploads(page, 2)
        page.get_by_role("button", name="Load files").click()
        page.get_by_text("Dataset summary").wait_for(timeout=120_000)
        page.get_by_test_id("stSidebar").get_by_text(file_name, exact=False).wait_for(timeout=60_000)

        dataset_name = f"![ds]({base}/dataset.png) <b>FY27</b>"
        page.get_by_role("tab", name="Saved datasets").click()
        page.get_by_label("Name for the active dataset").fill(dataset_name)
        page.get_by_role("button", name="Save the active dataset").click()
        page.get_by_text("Saved as dataset", exact=False).wait_for(timeout=60_000)
        page.get_by_role("button", name="Open", exact=True).click()
        page.get_by_test_id("stSidebar").get_by_text(dataset_name, exact=False).wait_for(timeout=120_000)

        page.get_by_test_id("stSidebarNavLink").filter(has_text="Territories").click()
        page.get_by_role("button", name="Design", exact=True).click()
        page.get_by_text("Designed 4 scenario(s).").wait_for(timeout=300_000)
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Drive time").click()
        page.get_by_text("Drive hours per territory").wait_for(timeout=120_000)
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Accounts map").click()
        page.get_by_text("Why this score?").wait_for(timeout=120_000)
        page.wait_for_timeout(2000)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "literal_user_text.png"), full_page=True)
        assert page.locator("b", has_text="FY27").count() == 0  # the typed <b> is text, not bold
    finally:
        server.shutdown()
        server.server_close()
    assert not hits, f"the page requested {hits}"
