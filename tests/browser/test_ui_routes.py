"""The UI's HTTP surface on a real server: the page, static files (gzip, caching, no traversal) and the
UI-only JSON helpers (keys of an experiment, runs having a metric, min/max-preserving downsampling)."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest
from browser_harness import UiServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]
HELPERS = "/ajax-api/2.0/bakehouse"


def test_index_has_security_headers_and_versioned_assets(ui_server: UiServer) -> None:
    r = httpx.get(ui_server.url + "/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "object-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    build = re.search(r"static-files/(b[0-9a-f]{12})/js/app\.js", r.text)
    assert build, r.text
    assert "__BUILD__" not in r.text


def test_static_files_are_gzipped_and_cached_forever_under_the_build_path(ui_server: UiServer) -> None:
    build = re.search(r"static-files/(b[0-9a-f]{12})/", httpx.get(ui_server.url + "/").text).group(1)
    url = f"{ui_server.url}/static-files/{build}/js/app.js"
    raw = httpx.get(url, headers={"Accept-Encoding": "gzip"}, follow_redirects=False)
    assert raw.status_code == 200
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["content-type"].startswith("text/javascript")
    assert "immutable" in raw.headers["cache-control"]
    assert "export function navigate" in raw.text  # httpx decoded it
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == raw.text
    again = httpx.get(url, headers={"If-None-Match": raw.headers["etag"]})
    assert again.status_code == 304
    # plotly.js comes from the installed plotly package, compressed ~3.4x
    with httpx.stream(
        "GET",
        f"{ui_server.url}/static-files/{build}/vendor/plotly.min.js",
        headers={"Accept-Encoding": "gzip"},
    ) as resp:
        body = b"".join(resp.iter_raw())
    assert resp.headers["content-encoding"] == "gzip"
    assert 800_000 < len(body) < 1_800_000
    assert len(gzip.decompress(body)) > 4_000_000
    # unversioned paths work too but must be revalidated
    assert httpx.get(f"{ui_server.url}/static-files/css/app.css").headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["../routes.py", "..%2Froutes.py", "js/../../routes.py", ".hidden", "%2e%2e/assets.py", "nope.js"]
)
def test_static_files_refuse_traversal_and_unknown_files(ui_server: UiServer, path: str) -> None:
    r = httpx.get(f"{ui_server.url}/static-files/{path}")
    assert r.status_code == 404
    assert "import" not in r.text


def test_experiment_keys_helper(ui_server: UiServer) -> None:
    s = ui_server.seeded
    r = httpx.get(f"{ui_server.url}{HELPERS}/experiments/keys", params={"experiment_ids": s.iris_exp})
    assert r.status_code == 200
    body = r.json()
    assert body["metric_keys"] == ["accuracy", "f1", "log_loss", "train_loss"]
    assert body["param_keys"] == ["C", "max_depth", "max_iter", "solver"]
    assert "mlflow.parentRunId" in body["tag_keys"] and "model" in body["tag_keys"]
    assert body["run_count"] == 11
    both = httpx.get(
        f"{ui_server.url}{HELPERS}/experiments/keys",
        params=[("experiment_ids", s.iris_exp), ("experiment_ids", s.misc_exp)],
    ).json()
    assert {"signal", "loss", "accuracy"} <= set(both["metric_keys"])
    bad = httpx.get(f"{ui_server.url}{HELPERS}/experiments/keys")
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert (
        httpx.get(
            f"{ui_server.url}{HELPERS}/experiments/keys", params={"experiment_ids": "x;drop"}
        ).status_code
        == 400
    )


def test_runs_with_metric_helper(ui_server: UiServer) -> None:
    s = ui_server.seeded
    r = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/runs-with-metric",
        params={"experiment_ids": s.iris_exp, "metric_key": "train_loss"},
    )
    assert sorted(r.json()["run_ids"]) == sorted(s.iris_runs.values())
    r = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/runs-with-metric",
        params={"experiment_ids": s.iris_exp, "metric_key": "max_depth"},
    )
    assert r.json()["run_ids"] == []


def test_downsampled_history_keeps_the_envelope(ui_server: UiServer) -> None:
    s = ui_server.seeded
    r = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/history-downsampled",
        params={"run_ids": s.long_run, "metric_key": "signal", "max_points": 1000},
    )
    assert r.status_code == 200
    (series,) = r.json()["series"]
    assert series["total"] == 100_000 and series["downsampled"] is True
    assert 900 <= len(series["values"]) <= 1000
    assert len(series["steps"]) == len(series["mins"]) == len(series["maxs"]) == len(series["timestamps"])
    assert series["steps"] == sorted(series["steps"])
    # the one-point spike at step 54,321 survives in its bucket's max, the mean hides it
    spike = max(range(len(series["maxs"])), key=lambda i: series["maxs"][i])
    assert series["maxs"][spike] > 3.5
    assert series["steps"][spike] <= 54_321 < series["steps"][spike + 1]
    assert series["values"][spike] < 2.0
    assert all(lo <= v <= hi for lo, v, hi in zip(series["mins"], series["values"], series["maxs"]))
    # short series come back unchanged
    short = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/history-downsampled",
        params=[
            ("run_ids", s.iris_runs["1.0"]),
            ("run_ids", s.iris_runs["10.0"]),
            ("metric_key", "train_loss"),
        ],
    ).json()["series"]
    assert [x["total"] for x in short] == [40, 40]
    assert short[0]["downsampled"] is False and short[0]["steps"] == list(range(40))
    # x axis by time buckets on timestamps instead of steps
    by_time = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/history-downsampled",
        params={"run_ids": s.long_run, "metric_key": "signal", "max_points": 500, "x_axis": "wall"},
    ).json()["series"][0]
    assert len(by_time["values"]) <= 500 and max(by_time["maxs"]) > 3.5
    missing = httpx.get(
        f"{ui_server.url}{HELPERS}/metrics/history-downsampled", params={"run_ids": s.long_run}
    )
    assert missing.status_code == 400 and "metric_key" in missing.json()["message"]
