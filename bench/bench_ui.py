"""Browser benchmark of the web UI: Bakehouse vs MLflow on the same 10,000 runs x 20 params x 20 metrics.

    .venv/bin/python bench/bench_ui.py [--runs 10000] [--repeat 3] [--workdir DIR] [--skip-mlflow]
                                       [--mlflow-load-more N] [--standard-api]

Both servers run on 127.0.0.1 from the same data (Bakehouse's database is written through its SQL store,
MLflow's is created by MLflow and filled with the same rows; the data is cached in
``--workdir``). Headless Debian Chromium (Playwright), a fresh browser context (empty cache) per repeat.

Measured: time to first rows (cold), JS/CSS bytes over the wire, sorting all runs by a metric and by a
param (until the right run is on top), time until all runs are in the table, browser memory (PSS of every
Chromium process), parallel coordinates for 20 runs and for all runs (from the table, and opened by link:
next to the busy first tab, then alone in a fresh context), a 100,000-point metric chart.
Medians are printed with the MLflow/Bakehouse ratio; the raw numbers go to ``<workdir>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}


# ------------------------------------------------------------------------------------------------ data
# Bakehouse's database is written through SqlTrackingStore (create_run + log_batch + update_run_info, the
# real store path). MLflow's database is created by MLflow itself (its migrations), then the very same rows
# are copied in with plain SQL, because writing 10,000 runs through MLflow's store takes many minutes.

N_PARAMS = 20
N_METRICS = 20
LONG_POINTS = 100_000


def seed_bakehouse(db_path: Path, art_root: Path, n_runs: int) -> dict[str, str]:
    from bakehouse.entities import Metric, Param, RunTag
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore.from_uri(f"sqlite:///{db_path}", str(art_root))
    rng = random.Random(42)
    eid = store.create_experiment("bench-10k")
    t0 = 1_700_000_000_000
    models = ["tree", "forest", "linear", "boosting", "knn"]
    for i in range(n_runs):
        start = t0 + i * 1000
        run = store.create_run(
            eid,
            user_id=f"user{i % 7}",
            start_time=start,
            run_name=f"run-{i:05d}",
            tags=[RunTag("mlflow.source.name", "train.py"), RunTag("mlflow.source.type", "LOCAL")],
        )
        lr = 10 ** rng.uniform(-4, -1)
        params = [
            Param("lr", f"{lr:.6f}"),
            Param("model", models[i % 5]),
            Param("depth", str(rng.randint(2, 12))),
        ]
        params += [Param(f"p_{k:02d}", str(rng.randint(0, 1000))) for k in range(3, N_PARAMS)]
        base = rng.random()
        metrics = [
            Metric(f"m_{k:02d}", base * (k + 1) + rng.gauss(0, 0.1), start + 500, 10)
            for k in range(N_METRICS)
        ]
        store.log_batch(run.info.run_id, metrics=metrics, params=params)
        store.update_run_info(
            run.info.run_id, "FINISHED", start + 500 + rng.randint(100, 100_000), f"run-{i:05d}"
        )
    # one extra experiment with a 100,000-point metric for the chart benchmark
    long_eid = store.create_experiment("bench-long-metric")
    long_run = store.create_run(long_eid, user_id="bench", start_time=t0, run_name="long", tags=[])
    for b in range(0, LONG_POINTS, 1000):
        store.log_batch(
            long_run.info.run_id,
            metrics=[
                Metric(
                    "signal",
                    math.sin(s / 2000) + 0.1 * math.sin(s / 7) + (3.0 if s == 54_321 else 0.0),
                    t0 + s,
                    s,
                )
                for s in range(b, b + 1000)
            ],
        )
    store.update_run_info(long_run.info.run_id, "FINISHED", t0 + LONG_POINTS, "long")
    store.engine.dispose()
    return {
        "experiment_id": str(eid),
        "long_experiment_id": str(long_eid),
        "long_run_id": long_run.info.run_id,
    }


def copy_to_mlflow(bh_db: Path, ml_db: Path, art_root: Path) -> None:
    """Create an MLflow database (MLflow's own migrations) holding exactly Bakehouse's runs."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{ml_db}", str(art_root))
    store.engine.dispose()
    con = sqlite3.connect(ml_db)
    con.execute("ATTACH DATABASE ? AS bh", (str(bh_db),))
    now = int(time.time() * 1000)
    for eid, name in con.execute(
        "SELECT experiment_id, name FROM bh.experiments WHERE name LIKE 'bench-%'"
    ).fetchall():
        con.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) "
            "VALUES (?, ?, ?, 'active', ?, ?)",
            (eid, name, f"{art_root}/{eid}", now, now),
        )
    con.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, "
        "deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) SELECT run_uuid, name, source_type, "
        "source_name, entry_point_name, user_id, status, start_time, end_time, deleted_time, source_version, lifecycle_stage, "
        "artifact_uri, experiment_id FROM bh.runs"
    )
    con.execute("INSERT INTO params (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.params")
    con.execute("INSERT INTO tags (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.tags")
    con.execute(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
        "SELECT key, value, timestamp, run_uuid, step, value_kind = 1 FROM bh.metrics"
    )
    con.execute(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "SELECT key, value, timestamp, step, value_kind = 1, run_uuid FROM bh.latest_metrics"
    )
    con.commit()
    con.close()


# ------------------------------------------------------------------------------------------------ setup


def ensure_data(workdir: Path, n_runs: int) -> dict[str, Any]:
    marker = workdir / "seed.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("n_runs") == n_runs and (workdir / "mlflow.db").exists():
            return info
    for f in workdir.glob("*.db*"):
        f.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    info = seed_bakehouse(workdir / "bakehouse.db", workdir / "bh-art", n_runs)
    print(f"seeded Bakehouse with {n_runs} runs in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    copy_to_mlflow(workdir / "bakehouse.db", workdir / "mlflow.db", workdir / "ml-art")
    con = sqlite3.connect(workdir / "mlflow.db")  # show MLflow's classic ML runs view, not the GenAI overview
    con.execute(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES ('mlflow.experimentKind', "
        "'custom_model_development', ?)",
        (int(info["experiment_id"]),),
    )
    con.commit()
    con.close()
    print(f"copied the same rows into MLflow's schema in {time.perf_counter() - t:.0f} s", flush=True)
    info["n_runs"] = n_runs
    marker.write_text(json.dumps(info))
    return info


def expectations(db: Path, eid: str) -> dict[str, Any]:
    """What must be on top after each sort, and run ids for the 20-run comparison (from the data itself)."""
    con = sqlite3.connect(db)
    q = (
        "SELECT r.name FROM latest_metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
        "WHERE r.experiment_id = ? AND m.key = 'm_05' ORDER BY m.value DESC LIMIT 1"
    )
    top_metric = con.execute(q, (int(eid),)).fetchone()[0]
    q = (
        "SELECT r.name FROM params p JOIN runs r ON r.run_uuid = p.run_uuid WHERE r.experiment_id = ? AND p.key = 'p_03' "
        "ORDER BY CAST(p.value AS REAL) ASC, r.start_time DESC LIMIT 1"
    )
    top_param_value = con.execute(
        "SELECT MIN(CAST(value AS REAL)) FROM params WHERE key = 'p_03'"
    ).fetchone()[0]
    ids20 = [
        r[0]
        for r in con.execute(
            "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time DESC LIMIT 20", (int(eid),)
        )
    ]
    newest = con.execute(
        "SELECT name FROM runs WHERE experiment_id = ? ORDER BY start_time DESC LIMIT 1", (int(eid),)
    ).fetchone()[0]
    con.close()
    return {
        "top_metric": top_metric,
        "top_param_value": top_param_value,
        "ids20": ids20,
        "newest": newest,
        "q": q,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], url: str, log: Path, timeout: float = 180) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=log.parent,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"{cmd} did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def warm_up(url: str, eid: str) -> None:
    """Load the server's code paths once (not the browser's cache): the UI page and a small runs search."""
    urllib.request.urlopen(url + "/", timeout=60).read()
    body = json.dumps({"experiment_ids": [eid], "max_results": 100}).encode()
    req = urllib.request.Request(
        url + "/ajax-api/2.0/mlflow/runs/search", body, {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(req, timeout=120).read()


# ------------------------------------------------------------------------------------------------ browser


def browser_pss_mb(tag: str, only_renderers: bool = False) -> float:
    """PSS of the Chromium process whose command line holds ``tag`` plus all its descendants (MB)."""
    parents: dict[int, int] = {}
    root = None
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            if root is None and tag in (d / "cmdline").read_bytes().decode(errors="replace"):
                root = int(d.name)
        except OSError:
            continue
    if root is None:
        return float("nan")
    family = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    total_kb = 0
    for pid in family:
        try:
            if only_renderers and b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def renderer_pss_mb(tag: str) -> float:
    """PSS of the tab's renderer processes only (what the page itself costs; the rest is Chromium's base)."""
    return browser_pss_mb(tag, only_renderers=True)


def memory(ctx: Any, page: Any, tag: str) -> dict[str, float]:
    """Tab (renderer) and whole-browser PSS right after the runs arrived, then after a full GC (what the
    page really keeps), and the JS heap; the same procedure for both UIs."""
    out = {"memory_mb": renderer_pss_mb(tag), "browser_total_mb": browser_pss_mb(tag)}
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("HeapProfiler.collectGarbage")
    time.sleep(1)
    heap = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    out["js_heap_mb"] = heap.get("JSHeapUsedSize", float("nan")) / 2**20
    out["memory_gc_mb"] = renderer_pss_mb(tag)
    out["browser_total_gc_mb"] = browser_pss_mb(tag)
    cdp.detach()
    return out


def asset_bytes(page: Any) -> dict[str, int]:
    """JS and CSS bytes this page fetched (compressed on the wire, and decoded)."""
    return page.evaluate("""() => {
        let wire = 0, decoded = 0, n = 0;
        for (const e of performance.getEntriesByType('resource')) {
            if (!/\\.(m?js|css)(\\?|$)/.test(new URL(e.name).pathname)) continue;
            wire += e.encodedBodySize; decoded += e.decodedBodySize; n++;
        }
        return {wire, decoded, files: n};
    }""")


def median(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


# ------------------------------------------------------------------------------------------------ Bakehouse


def measure_bakehouse(
    pw: Any, url: str, info: dict[str, Any], exp: dict[str, Any], n: int, standard_api: bool = False
) -> dict[str, Any]:
    tag = f"--bench-id={uuid.uuid4().hex}"
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, tag])
    out: dict[str, Any] = {}

    def new_context() -> Any:
        ctx = browser.new_context(viewport=VIEWPORT)
        if standard_api:  # as against a server without the columnar helper: the UI falls back to runs/search
            ctx.route(
                "**/ajax-api/2.0/bakehouse/runs/table*", lambda route: route.fulfill(status=404, body="{}")
            )
        return ctx

    try:
        ctx = new_context()
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        eid = info["experiment_id"]
        page.goto(f"{url}/#/no-such-page")
        page.wait_for_selector("h2")
        time.sleep(0.5)
        out["baseline_tab_mb"] = renderer_pss_mb(tag)
        page.close()
        ctx.close()
        ctx = new_context()
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        t0 = time.perf_counter()
        page.goto(f"{url}/#/experiments/{eid}")
        page.wait_for_selector(".grid-body .gr")
        out["first_rows_s"] = time.perf_counter() - t0
        page.wait_for_function(
            f"document.querySelector('.grid').dataset.complete === '1' && +document.querySelector('.grid').dataset.loaded === {n}"
        )
        out["all_rows_s"] = time.perf_counter() - t0
        out["bytes"] = asset_bytes(page)
        # every run is reachable by scrolling the one table (no "load more")
        page.evaluate("document.querySelector('.grid').scrollTop = 1e9")
        page.wait_for_selector(f".gr[data-index='{n - 1}']")
        out["dom_rows"] = page.eval_on_selector_all(".grid-body .gr", "e => e.length")
        time.sleep(0.5)
        out.update(memory(ctx, page, tag))
        page.evaluate("document.querySelector('.grid').scrollTop = 0")
        # sort by a metric (first click: descending), timed inside the page from the click until the sorted
        # rows are painted (two animation frames); then check the right run is on top
        sort_js = """async (col) => { const t = performance.now(); document.querySelector(`.gh[data-col='${col}']`).click();
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return performance.now() - t; }"""
        out["sort_metric_s"] = page.evaluate(sort_js, "m:m_05") / 1000
        first = page.text_content(".gr[data-index='0'] .namecell a")
        assert first == exp["top_metric"], (first, exp["top_metric"])
        out["sort_metric_js_ms"] = float(page.get_attribute(".grid", "data-sort-ms") or "nan")
        out["sort_param_s"] = page.evaluate(sort_js, "p:p_03") / 1000
        top = page.evaluate(
            "[...document.querySelectorAll('.gh')].findIndex(h => h.dataset.col === 'p:p_03')"
        )
        shown = page.evaluate(f"document.querySelector(\".gr[data-index='0']\").children[{top}].textContent")
        assert float(shown) == exp["top_param_value"], (shown, exp["top_param_value"])
        out["sort_param_js_ms"] = float(page.get_attribute(".grid", "data-sort-ms") or "nan")
        # parallel coordinates: 20 runs, then every run of the experiment
        t = time.perf_counter()
        page.evaluate(f"location.hash = '#/compare?runs={','.join(exp['ids20'])}'")
        page.wait_for_selector(".parcoords[data-lines='20']")
        out["parcoords_20_s"] = time.perf_counter() - t
        t = time.perf_counter()
        page.evaluate(f"location.hash = '#/compare?experiments={eid}'")
        page.wait_for_selector(f".parcoords[data-lines='{n}']")
        out["parcoords_all_s"] = time.perf_counter() - t
        out["parcoords_all_draw_ms"] = float(page.get_attribute(".parcoords", "data-render-ms") or "nan")
        # ... and straight from a link, in a fresh page (every run fetched again)
        page2 = ctx.new_page()
        page2.set_default_timeout(120_000)
        t = time.perf_counter()
        page2.goto(f"{url}/#/compare?experiments={eid}")
        page2.wait_for_selector(f".parcoords[data-lines='{n}']")
        out["parcoords_all_cold_s"] = time.perf_counter() - t
        # the first tab (its compare view draws the scatter plot with plotly when idle) may still be busy
        # while the link above opens; the same link again, alone in a fresh browser context
        ctx.close()
        ctx = new_context()
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/#/no-such-page")
        page.wait_for_selector("h2")  # the app's code in this context's cache, as for the link above
        page.close()
        page = ctx.new_page()  # a new document (the same URL with another hash would not reload)
        page.set_default_timeout(120_000)
        t = time.perf_counter()
        page.goto(f"{url}/#/compare?experiments={eid}")
        page.wait_for_selector(f".parcoords[data-lines='{n}']")
        out["parcoords_all_link_alone_s"] = time.perf_counter() - t
        ctx.close()
        # 100,000-point chart: cold (a new browser cache: plotly.js fetched too), then in-app from the
        # experiments page with plotly.js in the HTTP cache (the usual case after the first chart)
        ctx = new_context()
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        chart = f"#/charts?runs={info['long_run_id']}&keys=signal"
        t = time.perf_counter()
        page.goto(f"{url}/{chart}")
        page.wait_for_selector(".plot[data-render-ms] svg.main-svg")
        out["chart_100k_cold_s"] = time.perf_counter() - t
        page.goto(f"{url}/#/")
        page.reload()
        page.wait_for_selector("table.exps")
        t = time.perf_counter()
        page.evaluate(f"location.hash = {json.dumps(chart)}")
        page.wait_for_selector(".plot[data-render-ms] svg.main-svg")
        out["chart_100k_warm_s"] = time.perf_counter() - t
        out["chart_100k_fetch_draw_ms"] = float(page.get_attribute(".plot", "data-render-ms") or "nan")
        out["chart_points_drawn"] = int(page.get_attribute(".plot", "data-points") or 0)
        ctx.close()
    finally:
        browser.close()
    return out


# ------------------------------------------------------------------------------------------------ MLflow


def measure_mlflow(
    pw: Any, url: str, info: dict[str, Any], exp: dict[str, Any], n: int, load_more: int
) -> dict[str, Any]:
    tag = f"--bench-id={uuid.uuid4().hex}"
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, tag])
    out: dict[str, Any] = {}
    eid = info["experiment_id"]
    base = f"{url}/#/experiments/{eid}/runs"
    row0 = "document.querySelector(\".ag-row[row-index='0']\")"
    try:
        ctx = browser.new_context(viewport=VIEWPORT)
        page = ctx.new_page()
        page.set_default_timeout(300_000)
        t0 = time.perf_counter()
        page.goto(base)
        page.wait_for_function(f"{row0} && {row0}.textContent.includes({json.dumps(exp['newest'])})")
        out["first_rows_s"] = time.perf_counter() - t0
        time.sleep(1)
        out["bytes"] = asset_bytes(page)
        out["rows_after_first_page"] = page.eval_on_selector_all(
            ".ag-center-cols-container .ag-row", "e => e.length"
        )
        # sort by the same metric: MLflow sorts on the server and shows the first page again
        t = time.perf_counter()
        page.goto(
            f"{base}?searchFilter=&orderByKey=metrics.%60m_05%60&orderByAsc=false&startTime=ALL&lifecycleFilter=Active"
            "&modelVersionFilter=All+Runs&datasetsFilter=W10%3D"
        )
        page.wait_for_function(f"{row0} && {row0}.textContent.includes({json.dumps(exp['top_metric'])})")
        out["sort_metric_s"] = time.perf_counter() - t
        # "Load more" until every run is listed (or the click budget is used up); the button is replaced by
        # a spinner while a page loads, so wait for it to come back (or for the end of the list)
        rowcount = "+(document.querySelector('[aria-rowcount]') || {getAttribute: () => 0}).getAttribute('aria-rowcount')"
        clicks = 0
        t = time.perf_counter()
        button = page.get_by_role("button", name="Load more").first
        while clicks < load_more:
            try:
                button.wait_for(state="visible", timeout=30_000)
            except Exception:  # noqa: BLE001 - no button: everything is listed
                break
            before = page.evaluate(rowcount)
            button.click()
            clicks += 1
            page.wait_for_function(f"{rowcount} > {before}", timeout=300_000)
        out["rows_listed"] = page.evaluate(rowcount)
        out["load_more_clicks"] = clicks
        out["load_more_s"] = time.perf_counter() - t
        out.update(memory(ctx, page, tag))
        ctx.close()
        ctx = browser.new_context(viewport=VIEWPORT)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(base)
        page.wait_for_function(f"{row0} !== null")
        t = time.perf_counter()
        page.goto(f"{url}/#/compare-runs?runs={json.dumps(exp['ids20'])}&experiments={json.dumps([eid])}")
        page.wait_for_selector("g.parcoords", state="attached")
        page.wait_for_selector("canvas.gl-canvas-context", state="attached")
        out["parcoords_20_s"] = time.perf_counter() - t
        ctx.close()
    except Exception as exc:  # noqa: BLE001 - report what was measured and why the rest is missing
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        browser.close()
    return out


# ------------------------------------------------------------------------------------------------ main

ROWS = [
    ("first rows, cold (s)", "first_rows_s", 1.0),
    ("JS+CSS on the wire (MB)", "wire_mb", 1.5),
    ("JS+CSS decoded (MB)", "decoded_mb", None),
    ("sort all runs by a metric (s)", "sort_metric_s", 0.5),
    ("  of which the sort itself (ms)", "sort_metric_js_ms", None),
    ("sort all runs by a param (s)", "sort_param_s", 0.5),
    ("all runs in the table (s)", "all_rows_s", 5.0),
    ("'load more' clicks made", "load_more_clicks", None),
    ("  time for those clicks (s)", "load_more_s", None),
    ("  runs listed after them", "rows_listed", None),
    ("tab memory, all runs shown (MB PSS)", "memory_mb", None),
    ("  after a GC (MB PSS)", "memory_gc_mb", 200),
    ("whole browser memory (MB PSS)", "browser_total_mb", None),
    ("  after a GC (MB PSS)", "browser_total_gc_mb", None),
    ("JS heap after GC (MB)", "js_heap_mb", None),
    ("tab memory, empty page (MB PSS)", "baseline_tab_mb", None),
    ("parallel coordinates, 20 runs (s)", "parcoords_20_s", 1.0),
    ("parallel coordinates, all runs, from the table (s)", "parcoords_all_s", 3.0),
    ("parallel coordinates, all runs, opened by link (s)", "parcoords_all_cold_s", 3.0),
    ("  of which the canvas draw (ms)", "parcoords_all_draw_ms", None),
    ("  by link, alone in a fresh browser context (s)", "parcoords_all_link_alone_s", 3.0),
    ("100k-point chart, cold (s)", "chart_100k_cold_s", None),
    ("100k-point chart, plotly cached (s)", "chart_100k_warm_s", 1.0),
    ("  of which fetch + draw (ms)", "chart_100k_fetch_draw_ms", None),
]


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    flat: dict[str, list[float]] = {}
    for s in samples:
        b = s.get("bytes") or {}
        s = {
            **s,
            "wire_mb": b.get("wire", float("nan")) / 1e6,
            "decoded_mb": b.get("decoded", float("nan")) / 1e6,
        }
        for k, v in s.items():
            if isinstance(v, (int, float)):
                flat.setdefault(k, []).append(float(v))
    return {k: median(v) for k, v in flat.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bakehouse-bench-ui"))
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--mlflow-repeat", type=int, default=1, help="MLflow's 'load more' pass takes minutes")
    ap.add_argument(
        "--mlflow-load-more", type=int, default=10_000, help="cap on 'Load more' clicks (99 show 10,000 runs)"
    )
    ap.add_argument(
        "--standard-api",
        action="store_true",
        help="Bakehouse's UI without its columnar runs helper (runs/search only, as against other servers)",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    info = ensure_data(args.workdir, args.runs)
    exp = expectations(args.workdir / "bakehouse.db", info["experiment_id"])
    results: dict[str, Any] = {"runs": args.runs, "bakehouse": [], "mlflow": []}
    with sync_playwright() as pw:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(
            [
                str(VENV_BIN / "bakehouse"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{args.workdir / 'bakehouse.db'}",
                "--artifacts-destination",
                str(args.workdir / "bh-art"),
            ],
            url,
            args.workdir / "bakehouse-server.log",
        )
        try:
            warm_up(url, info["experiment_id"])
            for i in range(args.repeat):
                r = measure_bakehouse(pw, url, info, exp, args.runs, args.standard_api)
                print(f"bakehouse #{i + 1}: {json.dumps(r)}", flush=True)
                results["bakehouse"].append(r)
        finally:
            stop(proc)
        if not args.skip_mlflow:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start(
                [
                    str(VENV_BIN / "mlflow"),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--backend-store-uri",
                    f"sqlite:///{args.workdir / 'mlflow.db'}",
                    "--default-artifact-root",
                    str(args.workdir / "ml-art"),
                ],
                url,
                args.workdir / "mlflow-server.log",
            )
            try:
                warm_up(url, info["experiment_id"])
                for i in range(args.mlflow_repeat):
                    r = measure_mlflow(pw, url, info, exp, args.runs, args.mlflow_load_more)
                    print(f"mlflow #{i + 1}: {json.dumps(r)}", flush=True)
                    results["mlflow"].append(r)
            finally:
                stop(proc)
    bh, ml = summarize(results["bakehouse"]), summarize(results["mlflow"])
    results["median"] = {"bakehouse": bh, "mlflow": ml}
    (args.workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"\n{args.runs:,} runs x 20 params x 20 metrics, medians of {args.repeat} (Bakehouse) / {args.mlflow_repeat} (MLflow)"
    )
    print(f"{'':42} {'Bakehouse':>10} {'target':>8} {'MLflow':>10} {'ratio':>7}")
    for label, key, target in ROWS:
        b, m = bh.get(key, float("nan")), ml.get(key, float("nan"))
        ratio = f"{m / b:6.1f}x" if not math.isnan(b) and not math.isnan(m) and b > 0 else ""
        ok = "" if target is None or math.isnan(b) else ("ok" if b <= target else "MISSED")
        print(f"{label:42} {b:10.3f} {(f'<= {target}' if target else ''):>8} {m:10.3f} {ratio:>7} {ok}")
    print(f"\nraw results: {args.workdir / 'results.json'}")


if __name__ == "__main__":
    main()
