"""Streamlit AppTest smoke and behaviour tests for every page (no browser; see test_browser.py for that)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from territory_geo.store import Store
from ui.state import InputFile, Inputs

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline maps and a private store for each test."""
    store = tmp_path / "store.sqlite"
    monkeypatch.setenv("TERRITORY_GEO_OFFLINE", "1")
    monkeypatch.setenv("TERRITORY_GEO_STORE", str(store))
    return store


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _shown(markdown: str) -> str:
    """The text a Markdown source renders as, for sources whose user-derived parts are backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _frame(at: AppTest, column: str):
    """The first table on the page with ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _run_home(inputs: Inputs | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if inputs is not None:
        at.session_state["inputs"] = inputs
    return at.run()


BAD_CSV = (
    "Account ID,Account Name,Billing Zip/Postal Code,ARR,Win Rate\n"
    "A1,<img src=x onerror=alert(1)>,30303,250000,40%\n"
    "A2,Unknown Zip Co,99999,100,0.5\n"
    "A3,Negative Co,35203,-5,0.2\n"
    "A1,Duplicate Co,33131,10,0.1\n"
).encode()


def test_home_opens_on_the_demo(app_env: Path) -> None:
    at = _run_home()
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["Accounts"] == "6,000"
    assert metrics["Reps"] == "15"
    assert metrics["Quarantined rows"] == "0"
    assert any("Demo: US Southeast" in _shown(c.value) for c in at.sidebar.caption)


def test_home_shows_row_errors_for_a_bad_file_without_a_traceback(app_env: Path) -> None:
    at = _run_home(Inputs(label="bad.csv", accounts=InputFile("bad.csv", BAD_CSV)))
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["Valid rows"] == "1"
    assert metrics["Quarantined rows"] == "3"
    issues = at.dataframe[0].value
    assert {"row", "column", "value", "message", "fix"} <= set(issues.columns)
    assert set(issues.loc[issues["severity"] == "error", "row"].astype(int)) == {2, 3, 4}
    assert "Billing Zip/Postal Code" in set(issues["column"])


def test_home_reports_an_empty_file_clearly(app_env: Path) -> None:
    at = _run_home(Inputs(label="empty.csv", accounts=InputFile("empty.csv", b"")))
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_an_upload_survives_a_browser_refresh(app_env: Path) -> None:
    """An upload is kept in the store as an unsaved working copy and named in the URL; a new session with that URL
    (a refresh) reopens it, and says so. A link to an upload that is no longer kept says that and opens the demo."""
    upload = Inputs(label="crm_export.csv", accounts=InputFile("crm_export.csv", BAD_CSV))
    at = _run_home(upload)
    assert not at.exception
    token = at.query_params["upload"][0] if isinstance(at.query_params["upload"], list) else at.query_params["upload"]
    assert Store(app_env).load_upload(token)[1]["accounts"] == ("crm_export.csv", BAD_CSV)
    assert any("unsaved working copy" in i.value for i in at.info)

    refreshed = AppTest.from_file(APP, default_timeout=TIMEOUT)
    refreshed.query_params["upload"] = token
    refreshed.run()
    assert not refreshed.exception
    assert any("crm\\_export\\.csv" in c.value for c in refreshed.sidebar.caption)
    assert _metrics(refreshed)["Quarantined rows"] == "3"

    gone = AppTest.from_file(APP, default_timeout=TIMEOUT)
    gone.query_params["upload"] = "no-such-token"
    gone.run()
    assert not gone.exception
    assert any("no longer kept" in w.value for w in gone.warning)
    assert any("Demo: US Southeast" in _shown(c.value) for c in gone.sidebar.caption)


def test_home_escapes_user_text_and_hides_the_store_path(app_env: Path) -> None:
    """A refused file's column list and its file name render as text: the image in a column name is escaped
    (no request), and the page does not show where the store lives on disk."""
    beacon = "![x](http://127.0.0.1:9/beacon.png)"
    bad = f"{beacon},Notes\n1,2\n".encode()
    at = _run_home(Inputs(label=f"{beacon}.csv", accounts=InputFile(f"{beacon}.csv", bad)))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("found:" in _shown(e) and beacon in _shown(e) for e in errors)
    assert not any(beacon in e for e in errors)  # never the raw Markdown image
    everything = [el.value for kind in ("markdown", "caption", "error", "warning", "info", "success")
                  for el in getattr(at, kind) if isinstance(el.value, str)]
    everything += [c.value for c in at.sidebar.caption]
    assert not any(beacon in text for text in everything)
    assert not any(str(app_env) in text or "sqlite" in text.lower() for text in everything)


def test_what_is_set_aside_is_said_on_home_and_territories(app_env: Path) -> None:
    """A roster with a duplicate rep id: Home and the Territories page say which rep was set aside and how many
    accounts lost their owner, so the 14 territories for 15 reps are explained."""
    import pandas as pd

    root = Path(APP).parent
    reps = pd.read_csv(root / "data/demo/reps.csv", dtype=str, keep_default_na=False)
    reps.loc[reps["Rep ID"] == "R03", "Rep ID"] = "R02"
    inputs = Inputs(label="dup.csv", accounts=InputFile("accounts.csv", (root / "data/demo/accounts.csv").read_bytes()),
                    reps=InputFile("reps.csv", reps.to_csv(index=False).encode()))
    at = _run_home(inputs)
    assert not at.exception
    warnings = [_shown(w.value) for w in at.warning]
    assert any("R02 (Priya Raman, row 3: duplicate id)" in w for w in warnings)
    assert any(w.startswith("43 account(s) have an owner who is not on the usable roster") for w in warnings)
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    assert not at.exception
    warnings = [_shown(w.value) for w in at.warning]
    assert any("duplicate id" in w and "The designs below work without them." in w for w in warnings)
    at.button(key="terr_design").click().run()
    assert len(_frame(at, "contiguous")) == 14


def test_home_saves_and_reopens_a_dataset(app_env: Path) -> None:
    at = _run_home()
    at.text_input(key="home_save_name").set_value("Southeast FY27").run()
    at.button(key="home_save").click().run()
    assert not at.exception
    assert any("Saved as dataset #1" in s.value for s in at.success)
    at.button(key="home_open").click().run()
    assert not at.exception
    assert any("#1 Southeast FY27" in _shown(c.value) for c in at.sidebar.caption)
    assert at.query_params["dataset"] in ("1", ["1"])  # a refresh reopens the saved dataset

    restarted = _run_home()  # a new session on the same store: the dataset is still there
    assert restarted.selectbox(key="home_open_choice").options == ["#1 Southeast FY27"]
    shown_plans = next(d.value for d in restarted.dataframe if "rationale" in d.value.columns)  # the dataset's plans
    assert shown_plans["name"].tolist() == ["Current ownership"]
    plans = Store(app_env).list_plans(1)  # with the current ownership saved as the baseline plan
    assert plans[["name", "status"]].values.tolist() == [["Current ownership", "baseline"]]
    assert len(Store(app_env).load_plan(int(plans["id"][0])).assignment) == 2590


def test_accounts_map_filters_and_explains(app_env: Path) -> None:
    at = _run_home()
    at.switch_page("pages/accounts_map.py").run()
    assert not at.exception
    assert _metrics(at)["Accounts shown"] == "6,000"
    assert len(at.get("deck_gl_json_chart")) == 1

    at.multiselect(key="map_tiers").set_value(["A"]).run()
    assert _metrics(at)["Accounts shown"] == "900"
    assert _metrics(at)["A / B / C"] == "900 / 0 / 0"

    at.radio(key="map_status").set_value("prospects").run()
    shown = int(_metrics(at)["Accounts shown"].replace(",", ""))
    assert 0 < shown < 900

    explained = at.selectbox(key="map_explain").value
    breakdown = at.dataframe[0].value
    assert list(breakdown["label"]) == ["Firmographic fit", "Growth potential", "Buying intent",
                                        "Relationship depth", "Strategic value"]
    assert explained.startswith("ACC-")


def test_accounts_map_rescoring_with_new_weights(app_env: Path) -> None:
    at = _run_home()
    at.switch_page("pages/accounts_map.py").run()
    at.selectbox(key="map_explain").set_value("ACC-00001").run()
    before = at.dataframe[0].value.set_index("label")["weight"]
    at.number_input(key="map_weight_intent").set_value(1.0).run()
    at.button(key="map_apply").click().run()
    assert not at.exception
    after = at.dataframe[0].value.set_index("label")["weight"]
    assert after["Buying intent"] > before["Buying intent"]


def test_accounts_map_escapes_account_names(app_env: Path) -> None:
    at = _run_home(Inputs(label="bad.csv", accounts=InputFile("bad.csv", BAD_CSV)))
    at.switch_page("pages/accounts_map.py").run()
    assert not at.exception
    rendered = [m.value for m in at.markdown]
    assert any(r"\<img src=x onerror=alert\(1\)\>" in v for v in rendered)
    assert not any(re.search(r"(?<!\\)<img", v) for v in rendered)  # never an unescaped tag


def test_accounts_map_on_an_unusable_dataset_says_what_to_do(app_env: Path) -> None:
    at = _run_home(Inputs(label="empty.csv", accounts=InputFile("empty.csv", b"")))
    at.switch_page("pages/accounts_map.py").run()
    assert not at.exception
    assert any("cannot be mapped" in e.value for e in at.error)


def _designs_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TerritoryDesigner.fit call from now on, by scenario name."""
    from territory_geo.design import designer

    calls: list[str] = []
    fit = designer.TerritoryDesigner.fit

    def counted(self, inputs):
        calls.append(self.scenario.name)
        return fit(self, inputs)

    monkeypatch.setattr(designer.TerritoryDesigner, "fit", counted)
    return calls


def test_territories_page_designs_only_on_the_button(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the page, changing a setting, switching pages: nothing is designed. Design designs; a changed setting
    keeps the old results with a note; settings designed before in the session are not designed again."""
    calls = _designs_counted(monkeypatch)
    at = _run_home()
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    assert not at.exception and calls == []
    assert any("press **Design**: nothing is designed until then" in i.value for i in at.info)
    assert not any("cv_potential" in d.value.columns for d in at.dataframe)  # no comparison yet

    at.number_input(key="terr_seed").set_value(3).run()  # a form: nothing reaches the page until Design
    assert calls == [] and not at.dataframe

    at.number_input(key="terr_seed").set_value(3)
    at.button(key="terr_design").click().run()
    assert not at.exception and calls == ["evenness"]
    assert at.status[0].label == "Designed 1 scenario(s)." and at.status[0].state == "complete"
    assert _frame(at, "cv_potential")["plan"].tolist() == ["Current ownership", "Seeded k-means (unbalanced)",
                                                            "A · Max revenue evenness"]
    assert at.session_state["terr_requests"][next(iter(at.session_state["terr_requests"]))].seed == 3

    at.session_state["terr_seed"] = 4  # a setting changed but not designed with
    at.run()
    assert calls == ["evenness"]
    assert any(w.value.startswith("Settings changed — press **Design**") and "seed 3" in w.value for w in at.warning)
    assert "cv_potential" in _frame(at, "cv_potential")  # the old results stay

    at.button(key="terr_design").click().run()
    assert calls == ["evenness", "evenness"]
    assert not any(w.value.startswith("Settings changed") for w in at.warning)

    at.switch_page("pages/home.py").run()
    at.switch_page("pages/territories.py").run()
    assert not at.exception and calls == ["evenness", "evenness"]  # kept for the session
    assert at.number_input(key="terr_seed").value == 4  # the form shows what the results were designed with
    assert len(_frame(at, "contiguous")) == 15

    at.session_state["terr_seed"] = 3
    at.button(key="terr_design").click().run()
    assert calls == ["evenness", "evenness"]  # seed 3 was designed earlier in this session
    assert any("kept from an earlier design" in m.value for m in at.status[0].markdown)


def test_territories_page_designs_compares_explains_and_saves(app_env: Path) -> None:
    at = _run_home()
    at.session_state["terr_scenarios"] = ["evenness", "blend"]
    at.switch_page("pages/territories.py").run()
    at.button(key="terr_design").click().run()
    assert not at.exception
    comparison = _frame(at, "cv_potential").set_index("plan")
    assert list(comparison.index) == ["Current ownership", "Seeded k-means (unbalanced)",
                                      "A · Max revenue evenness", "D · Balanced blend (40/30/30)"]
    assert comparison.loc["A · Max revenue evenness", "max_dev_potential"] <= 0.025 + 1e-9
    assert comparison.loc["Current ownership", "cv_potential"] > 0.5  # the legacy design is visibly unbalanced
    assert (comparison["n_noncontiguous"].dropna() == 0).all()
    assert comparison["drive_hours_total"].drop("Seeded k-means (unbalanced)").gt(0).all()
    assert any("within ±2.5%" in _shown(s.value) for s in at.success)
    shown = at.dataframe[0].proto  # plain names, each with its explanation, instead of keys
    config = json.loads(shown.columns)
    assert config["cv_potential"]["label"] == "CV of potential"
    assert "lower is fairer" in config["cv_potential"]["help"].lower()
    assert config["pp_mean"]["label"] == "Compactness (Polsby–Popper)" and "1 = a circle" in config["pp_mean"]["help"]
    assert config["travel_share"]["label"] == "Travel share (worst rep)"
    assert all("_" not in c["label"] for c in config.values() if "label" in c)
    territories = _frame(at, "contiguous")
    assert len(territories) == 15 and territories["contiguous"].all()
    at.button(key="terr_save").click().run()
    assert any("Saved as plan" in s.value for s in at.success)
    plans = Store(app_env).list_plans(1)
    assert "A · Max revenue evenness" in set(plans["name"])


def test_territories_legend_lists_every_rep_in_its_colour(app_env: Path) -> None:
    from ui import maps

    at = _run_home()
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    at.button(key="terr_design").click().run()
    legend = _frame(at, "colour")
    roster = pd.read_csv(Path(APP).parent / "data/demo/reps.csv", dtype=str)
    assert legend["rep"].tolist() == roster["Name"].tolist()
    expected = maps.territory_color([f"T-{r}" for r in roster["Rep ID"]])
    assert legend["colour"].tolist() == [maps.hex_color(c) for c in expected.values()]


def test_territories_page_thorough_toggle_designs_with_region_redraws(app_env: Path) -> None:
    """The sidebar's "Thorough" checkbox reaches the designer (a balanced demo plan stays balanced and whole)."""
    at = _run_home()
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    assert at.checkbox(key="terr_thorough").value is False
    at.checkbox(key="terr_thorough").check()
    at.button(key="terr_design").click().run()
    assert not at.exception
    designed = next(iter(at.session_state["terr_designs"].values())).designer
    assert designed.thorough is True
    comparison = _frame(at, "cv_potential").set_index("plan")
    assert comparison.loc["A · Max revenue evenness", "max_dev_potential"] <= 0.025 + 1e-9
    assert comparison.loc["A · Max revenue evenness", "n_noncontiguous"] == 0


def test_territories_page_rolls_up_regions(app_env: Path) -> None:
    at = _run_home()
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    at.button(key="terr_design").click().run()
    assert not at.exception
    regions = _frame(at, "worst_dev_potential").set_index("region")
    assert regions["territories"].to_dict() == {"Atlantic": 6, "Florida": 6, "Gulf": 3}


def _chart_points(chart) -> pd.DataFrame:
    """The points an Altair chart element on the page plots (its Arrow datasets)."""
    import pyarrow as pa

    return pd.concat([pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets])


@pytest.fixture
def dask_scheduler(monkeypatch: pytest.MonkeyPatch):
    """An in-process LocalCluster as TERRITORY_GEO_DASK_SCHEDULER."""
    import warnings

    from distributed import LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up and shut-down notices are not ours to fail on
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
            monkeypatch.setenv("TERRITORY_GEO_DASK_SCHEDULER", cluster.scheduler_address)
            yield cluster


def test_territories_trade_offs_on_request_and_a_picked_point_shows_its_plan(
        app_env: Path, dask_scheduler, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the Florida instance: "Show trade-offs" runs the sweep on the scheduler and draws both charts with today's
    ownership, the designed scenario and each setting; picking a point shows and saves that plan."""
    from dataclasses import replace

    from territory_geo.design import sweep
    from tests.test_sweep import florida_files

    monkeypatch.setitem(sweep.SWEEPS, "disruption", replace(sweep.SWEEPS["disruption"], values=(0.4,)))
    monkeypatch.setitem(sweep.SWEEPS, "travel", replace(sweep.SWEEPS["travel"], values=(0.05, 0.2)))
    accounts, reps = florida_files()
    at = _run_home(Inputs(label="florida.csv", accounts=InputFile("accounts.csv", accounts),
                          reps=InputFile("reps.csv", reps)))
    at.session_state["terr_scenarios"] = ["evenness"]
    at.switch_page("pages/territories.py").run()
    at.button(key="terr_design").click().run()
    assert not at.get("vega_lite_chart")  # not before it is asked for
    at.button(key="terr_tradeoffs").click().run()
    assert not at.exception
    assert "design_run" in dask_scheduler.scheduler.task_prefixes
    assert at.status[-1].label == "Designed 3 trade-off setting(s)."
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    disruption, travel = (_chart_points(c) for c in charts)
    assert disruption["key"].tolist() == ["disruption:0.4", "scenario:evenness", "current"]
    assert travel["key"].tolist() == ["travel:0.05", "travel:0.2", "scenario:evenness", "current"]
    assert travel.set_index("key").loc["current", "arr_changed_share"] == 0.0

    at.session_state["terr_chart_travel"] = {"selection": {"pick": [{"key": "travel:0.2"}]}}  # a click on ±20 %
    at.run()
    assert at.selectbox(key="terr_show").value == "travel:0.2"
    run = next(r for r in at.session_state["terr_sweeps"][next(iter(at.session_state["terr_sweeps"]))].runs
               if r.key == "travel:0.2")
    shown = _frame(at, "contiguous").set_index("territory_id")
    assert shown["potential"].to_dict() == run.table["potential"].to_dict()
    assert any(w.value.startswith("C · Max rep proximity \\(±20%\\)") for w in [*at.success, *at.warning])
    at.button(key="terr_save").click().run()
    saved = Store(app_env).list_plans(1)
    assert "C · Max rep proximity (±20%)" in set(saved["name"])
    plan = Store(app_env).load_plan(int(saved.loc[saved["name"] == "C · Max rep proximity (±20%)", "id"].iloc[0]))
    assert dict(plan.assignment) == run.rep_assignment().to_dict()


TINY_ROADS = Path(__file__).resolve().parent / "data" / "tiny_roads.osm"


def test_drive_time_page_without_a_graph_labels_everything_estimated(app_env: Path) -> None:
    at = _run_home()
    at.switch_page("pages/drive_time.py").run()
    assert not at.exception
    assert any("every drive time on this page is **estimated**" in w.value for w in at.warning)
    metrics = _metrics(at)
    assert re.fullmatch(r"\d+ of 15", metrics["Reps over the red line"])
    hours = at.dataframe[0].value
    assert len(hours) == 15 and set(hours["source"]) == {"estimated"}
    assert {"drive_hours_month", "travel_share", "red_flag"} <= set(hours.columns)
    calibration = at.dataframe[1].value.set_index("class")
    assert calibration.loc["rural", "speed_kmh"] == 75.0 and calibration["pairs"].sum() == 0
    assert len(at.get("deck_gl_json_chart")) == 1


def test_drive_time_page_with_a_road_graph_file_uses_it_where_it_reaches(app_env: Path) -> None:
    from ui.state import GraphChoice

    at = _run_home()
    at.session_state["dt_source"] = "file"
    at.session_state["drive_graph"] = GraphChoice("tiny_roads.osm", TINY_ROADS.read_bytes())
    at.switch_page("pages/drive_time.py").run()
    assert not at.exception
    assert not any("every drive time on this page is" in w.value for w in at.warning)  # not "everything estimated"
    # the legacy ownership piles accounts on three reps: their months cannot fit, and the page says so
    assert {_shown(w.value).split(" ")[0] for w in at.warning if "field days a month" in w.value} == \
        {"R01", "R05", "R06"}
    assert any("lie outside the road graph" in i.value and "**estimated**" in i.value for i in at.info)
    calibration = at.dataframe[1].value.set_index("class")
    assert calibration.loc["urban", "pairs"] > 0  # routes on the graph calibrated the estimate
    at.selectbox(key="dt_plan").set_value("evenness").run()  # drive hours of a designed plan
    assert not at.exception
    assert len(at.dataframe[0].value) == 15
    at.switch_page("pages/territories.py").run()
    assert any("road drive times from tiny\\_roads\\.osm" in c.value for c in at.caption)


def test_drive_time_download_offline_says_what_to_do(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from territory_geo import drivetime

    monkeypatch.setattr(drivetime, "is_online", lambda *args, **kwargs: False)
    monkeypatch.setenv("TERRITORY_GEO_GRAPH_CACHE", str(app_env.parent / "graphs"))
    at = _run_home()
    at.session_state["dt_source"] = "download"
    at.switch_page("pages/drive_time.py").run()
    at.button(key="dt_download").click().run()
    assert not at.exception
    assert any("No internet connection" in _shown(e.value) and ".osm.pbf" in _shown(e.value) for e in at.error)
    assert any("every drive time on this page is **estimated**" in w.value for w in at.warning)


def test_drive_time_page_with_a_corrupt_graph_file_says_so_and_falls_back(app_env: Path) -> None:
    from ui.state import GraphChoice

    at = _run_home()
    at.session_state["dt_source"] = "file"
    at.session_state["drive_graph"] = GraphChoice("roads.osm.pbf", b"this is not a PBF file")
    at.switch_page("pages/drive_time.py").run()
    assert not at.exception
    assert any("roads.osm.pbf: could not be read as a road graph" in _shown(e.value) for e in at.error)
    assert any("every drive time on this page is **estimated**" in w.value for w in at.warning)
    assert at.session_state["drive_graph"] is None
