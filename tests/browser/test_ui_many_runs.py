"""An experiment of more runs than one page, in headless Chromium against a real server: parallel
coordinates opened by link, and the runs table's count and pages.

Opened by link, the compare page fetches the first runs with every param and metric, then the other runs
with only the keys it plots (``runs/table`` with ``param_keys`` / ``metric_keys``); an axis added later is
fetched for every run then. The experiment here has more runs than that first page, and its oldest run
(the last one fetched) holds outliers, so an axis whose scale reaches them proves the plotted values came
from every page; against a server without ``runs/table`` the page falls back to ``runs/search``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_harness import start_server, stop_server
from playwright.sync_api import Page, Request, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

N_RUNS = 230  # more than the compare page's first page (100 runs)
OUTLIER = 50.0  # metric values are in [1, 2) but for the oldest run's m_03 and m_09


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server of its own over one experiment of N_RUNS runs (written through the SQL store, then served)."""
    from bakehouse.entities import Metric, Param
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    workdir = tmp_path_factory.mktemp("compare-by-link")
    db_uri = f"sqlite:///{workdir / 'bakehouse.db'}"
    store = SqlTrackingStore.from_uri(db_uri, str(workdir / "artifacts"))
    rng = random.Random(7)
    eid = store.create_experiment("compare-by-link")
    for i in range(N_RUNS):
        run = store.create_run(
            eid, user_id="u", start_time=1_700_000_000_000 + i * 1000, run_name=f"r{i:03d}", tags=[]
        )
        params = [
            Param("depth", str(2 + i % 9)),
            Param("lr", f"{rng.uniform(0.001, 0.1):.4f}"),
            Param("fixed", "1"),
        ]
        params += [Param(f"p_{k}", str(rng.randint(0, 9))) for k in range(3, 8)]
        if i == 0:  # a key only the oldest run has: known from experiments/keys, not from the first runs
            params.append(Param("late", "7"))
        metrics = [
            Metric(f"m_{k:02d}", OUTLIER if i == 0 and k in (3, 9) else 1 + rng.random(), 5, 0)
            for k in range(10)
        ]
        store.log_batch(run.info.run_id, metrics=metrics, params=params)
    store.engine.dispose()
    url, proc, _ = start_server(workdir, db_uri, workdir / "artifacts")
    try:
        yield url, str(eid)
    finally:
        stop_server(proc)


def _table_requests(page: Page) -> list[dict[str, list[str]]]:
    """The query of every runs/table request the page sends, as they are sent."""
    seen: list[dict[str, list[str]]] = []

    def record(req: Request) -> None:
        if "/bakehouse/runs/table" in req.url:
            seen.append(parse_qs(urlsplit(req.url).query))

    page.on("request", record)
    return seen


def _axis_max(page: Page, axis: str) -> float:
    ticks = page.locator(f".parcoords .pc-axis[data-axis='{axis}'] .pc-tick").all_text_contents()
    return max(float(t) for t in ticks)


def test_parallel_coordinates_by_link_fetch_only_the_plotted_keys(
    page: Page, server: tuple[str, str]
) -> None:
    url, eid = server
    sent = _table_requests(page)
    page.goto(f"{url}/#/compare?experiments={eid}&pc=p%3Adepth,p%3Alr,m%3Am_03")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", str(N_RUNS))
    assert pc.locator(".pc-title").all_text_contents() == ["depth", "lr", "m_03"]
    assert _axis_max(page, "m:m_03") >= 40  # the oldest run's outlier, from the last page
    first, *rest = sent
    assert (
        first["max_results"] == ["100"]
        and first["include"] == ["params,metrics"]
        and first["total"] == ["true"]
    )
    assert rest, sent
    for query in rest:  # only the plotted keys, and only the run columns that name a line
        assert query["param_keys"] == ["depth", "lr"] and query["metric_keys"] == ["m_03"], query
        assert "include" not in query and query["run_fields"] == ["run_name"], query
    assert sum(int(q["max_results"][0]) for q in sent) == N_RUNS  # nothing asked twice or past the end
    # the side-by-side table has every param of the first runs
    expect(page.locator("table.compare th", has_text="p_7")).to_have_count(1)


def test_default_axes_by_link_and_an_axis_added_later(page: Page, server: tuple[str, str]) -> None:
    url, eid = server
    sent = _table_requests(page)
    page.goto(f"{url}/#/compare?experiments={eid}")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", str(N_RUNS))
    # the params that vary (not "fixed"), then the metrics; the first metric colors the lines
    titles = ["depth", "lr", "p_3", "p_4", "p_5", "p_6", "m_00"]
    assert pc.locator(".pc-title").all_text_contents() == titles
    assert sent[-1]["param_keys"] == ["depth", "lr", "p_3", "p_4", "p_5", "p_6"]
    # an axis added from the chooser is fetched for every run (m_09's outlier is in the last page)
    before = len(sent)
    page.locator(".pc-chooser summary").click()
    page.get_by_label("metric: m_09", exact=True).check()
    expect(pc.locator(".pc-axis[data-axis='m:m_09']")).to_have_count(1)
    expect(page.locator(".parcoords")).to_have_attribute("data-lines", str(N_RUNS))
    assert _axis_max(page, "m:m_09") >= 40
    added = sent[before:]
    assert added and all(q["metric_keys"] == ["m_09"] and "param_keys" not in q for q in added), added
    assert "pc=" in page.url and "m_09" in page.url  # the link keeps the axes
    # a key none of the first runs has is offered too (from the experiment's key names), and plotted
    page.get_by_label("param: late", exact=True).check()
    expect(pc.locator(".pc-axis[data-axis='p:late'] .pc-tick")).to_have_text(["7"])
    assert sent[-1]["param_keys"] == ["late"] and "metric_keys" not in sent[-1], sent[-1]


def test_parallel_coordinates_by_link_without_the_columnar_helper(
    page: Page, server: tuple[str, str]
) -> None:
    """Against a server without runs/table (as MLflow) every run comes complete from runs/search."""
    url, eid = server
    page.context.route("**/ajax-api/2.0/bakehouse/**", lambda route: route.fulfill(status=404, body="{}"))
    searches: list[str] = []
    page.on("request", lambda req: searches.append(req.url) if "mlflow/runs/search" in req.url else None)
    page.goto(f"{url}/#/compare?experiments={eid}&pc=p%3Adepth,m%3Am_03")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", str(N_RUNS))
    assert _axis_max(page, "m:m_03") >= 40
    assert searches


def test_runs_table_counts_alongside_its_first_page_and_asks_nothing_past_the_end(
    page: Page, server: tuple[str, str]
) -> None:
    """The count is a request of its own (the first rows never wait for it); with it, the remaining pages
    are exactly the runs that exist."""
    url, eid = server
    sent = _table_requests(page)
    page.goto(f"{url}/#/experiments/{eid}")
    grid = page.locator(f".grid[data-experiments='{eid}'][data-complete='1']")
    expect(grid).to_have_attribute("data-loaded", str(N_RUNS))
    counts = [q for q in sent if q.get("total") == ["true"]]
    pages = [q for q in sent if "total" not in q]
    assert len(counts) == 1 and counts[0]["max_results"] == ["1"], sent
    assert pages[0]["max_results"] == ["200"] and "page_token" not in pages[0], sent
    assert sum(int(q["max_results"][0]) for q in pages) == N_RUNS, sent  # none past the end
