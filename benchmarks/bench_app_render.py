"""How responsive the Accounts map is at the demo's 6,000 accounts (server side, via Streamlit's AppTest).

Measures: the first run of Home (cold caches: read, validate, score, build ZIP areas), the first run of the Accounts
map, reruns after a filter change and after picking another account (warm caches), and the size of the map payload
sent to the browser. Run: ``python benchmarks/bench_app_render.py``; writes ``benchmarks/out/app_render.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TERRITORY_GEO_OFFLINE", "1")
os.environ.setdefault("TERRITORY_GEO_STORE", "/tmp/bench_app_render.sqlite")

from streamlit.testing.v1 import AppTest  # noqa: E402


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> dict:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    results: dict[str, object] = {}
    results["home_cold_s"] = _timed(at.run)
    results["map_first_s"] = _timed(lambda: at.switch_page("pages/accounts_map.py").run())
    filters = []
    for tiers in (["A"], ["A", "B"], ["A", "B", "C"], ["B"], ["A", "B", "C"]):
        filters.append(_timed(lambda t=tiers: at.multiselect(key="map_tiers").set_value(t).run()))
    results["map_filter_rerun_s_median"] = statistics.median(filters)
    picks = []
    for account in ("ACC-00010", "ACC-00020", "ACC-00030"):
        picks.append(_timed(lambda a=account: at.selectbox(key="map_explain").set_value(a).run()))
    results["map_explain_rerun_s_median"] = statistics.median(picks)
    chart = at.get("deck_gl_json_chart")[0]
    results["deck_json_mb"] = len(chart.proto.json) / 1e6
    results["accounts"] = 6000
    assert not at.exception, at.exception
    return results


if __name__ == "__main__":
    out = main()
    (ROOT / "benchmarks" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "out" / "app_render.json").write_text(json.dumps(out, indent=2))
    for key, value in out.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
