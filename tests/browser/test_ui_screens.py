"""Every screen of the web UI, driven in headless Chromium against a real seeded ``bakehouse server``."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import UiServer, shot, start_server, stop_server
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, expect
from ui_seed import Seeded, seed_iris_project

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def rows(page: Page) -> list[str]:
    """Run names of the rendered rows of the runs table, top to bottom."""
    page.wait_for_selector(".grid[data-complete='1']")
    return page.eval_on_selector_all(
        ".grid-body .gr",
        "rs => rs.sort((a, b) => +a.dataset.index - +b.dataset.index).map(r => r.querySelector('.namecell a').textContent)",
    )


def open_runs_table(page: Page, url: str, experiment_id: str) -> None:
    """Open an experiment's runs table and wait until *its* rows are all loaded.

    Waiting on any `.grid[data-complete]` is not enough after a hash change: the previous
    experiment's table is still there, complete, until the new one renders.
    """
    page.goto(f"{url}/#/experiments/{experiment_id}")
    expect(page.locator(f".grid[data-experiments='{experiment_id}'][data-complete='1']")).to_have_count(1)


def test_without_auth_the_page_asks_for_no_session_and_gets_no_error(page: Page, ui_server: UiServer) -> None:
    """A server without --auth has no sign-in: the page must not ask for one (a 404 on every page load)."""
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "response",
        lambda response: (
            failed.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.goto(ui_server.url + "/")
    expect(page.locator("table.exps tbody tr").first).to_be_visible()
    page.get_by_role("link", name="Models").click()
    expect(page.locator("main h1")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("data-auth") == "off"
    assert not [url for url in requested if "auth/session" in url]
    assert failed == []


def test_experiments_list_search_create_rename_delete_restore_tags(page: Page, ui_server: UiServer) -> None:
    page.goto(ui_server.url + "/")
    table = page.locator("table.exps")
    for name in ("IrisProject", "Misc & <b>edge</b> cases", "Empty experiment", "Default"):
        expect(table.locator("tbody tr", has_text=name).first).to_be_visible()
    # user strings are shown as text, not markup
    expect(table).to_contain_text("Misc & <b>edge</b> cases")
    expect(
        table.locator("tbody tr", has=page.get_by_role("link", name="IrisProject", exact=True))
    ).to_contain_text("team: bakers")
    shot(page, "experiments")

    page.get_by_label("Search experiments").fill("misc &")
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    assert "q=misc" in page.url

    page.get_by_label("Search experiments").fill("")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="New experiment").click()
    page.get_by_label("Name").fill("created-in-browser")
    page.get_by_role("button", name="OK").click()
    expect(page.locator("h1")).to_have_text("created-in-browser")
    expect(page.locator(".empty")).to_contain_text("no runs yet")

    page.goto(ui_server.url + "/#/")
    row = page.locator("table.exps tbody tr", has_text="created-in-browser")
    row.get_by_role("button", name="Rename").click()
    page.get_by_label("New name").fill("renamed-in-browser")
    page.get_by_role("button", name="OK").click()
    row = page.locator("table.exps tbody tr", has_text="renamed-in-browser")
    expect(row).to_have_count(1)

    row.get_by_role("button", name="Tags").click()
    page.locator("dialog textarea").fill("owner=qa\nstage=dev")
    page.get_by_role("button", name="OK").click()
    expect(row).to_contain_text("owner: qa")

    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.locator("table.exps tbody tr", has_text="renamed-in-browser")).to_have_count(0)
    page.get_by_label("Show").select_option("DELETED_ONLY")
    deleted = page.locator("table.exps tbody tr", has_text="renamed-in-browser")
    expect(deleted).to_have_count(1)
    deleted.get_by_role("button", name="Restore").click()
    expect(page.locator("table.exps tbody tr")).to_have_count(0)
    page.get_by_label("Show").select_option("ACTIVE_ONLY")
    expect(page.locator("table.exps tbody tr", has_text="renamed-in-browser")).to_have_count(1)

    # several experiments in one runs table
    page.get_by_label("Select IrisProject", exact=True).check()
    page.get_by_label("Select Misc & <b>edge</b> cases").check()
    page.get_by_role("button", name="Open selected").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"IrisProject \+ Misc|Misc .* \+ IrisProject"))
    expect(page.locator(".gh[data-col='a:experiment_id']")).to_have_count(1)
    expect(page.locator(".grid")).to_have_attribute("data-complete", "1")
    assert int(page.locator(".grid").get_attribute("data-loaded") or 0) >= 15


@pytest.fixture
def iris_only_server(tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    """A server of its own holding only IrisProject (its 7 runs and the grid search with 3 children): the
    runs table's exact counts and order cannot see runs other tests add to the shared server."""
    db_uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    url, proc, _ = start_server(tmp_path, db_uri, tmp_path / "artifacts")
    try:
        seeded = Seeded()
        seed_iris_project(MlflowClient(tracking_uri=url, registry_uri=url), seeded, int(time.time() * 1000))
        yield url, seeded
    finally:
        stop_server(proc)


def test_runs_table_search_sort_nested_columns_csv(page: Page, iris_only_server: tuple[str, Seeded]) -> None:
    url, s = iris_only_server
    page.goto(f"{url}/#/experiments/{s.iris_exp}")
    grid = page.locator(".grid")
    expect(grid).to_have_attribute("data-complete", "1")
    expect(page.locator(".count")).to_have_text("11 runs")
    names = rows(page)
    assert len(names) == 8  # 7 IrisProject runs + the parent; its 3 children are folded under it
    assert "tree-depth-2" not in names
    # nested runs: expand the parent
    page.get_by_role("button", name="Expand 3 child runs").click()
    expect(page.locator(".grid-body .gr")).to_have_count(11)  # the redraw is asynchronous: wait for it
    names = rows(page)
    parent_at = names.index("grid-search")
    assert names[parent_at + 1 : parent_at + 4] == ["tree-depth-2", "tree-depth-4", "tree-depth-8"] or sorted(
        names[parent_at + 1 : parent_at + 4]
    ) == ["tree-depth-2", "tree-depth-4", "tree-depth-8"]
    shot(page, "runs-table")

    # sort by a metric (all rows are loaded, so this is client side) - descending first
    page.locator(".gh[data-col='m:log_loss']").click()
    expect(grid).to_have_attribute("data-sorted-by", "m:log_loss:desc")
    names = rows(page)
    assert names[0] == "iris-C=0.01"
    page.locator(".gh[data-col='m:log_loss']").click()
    expect(grid).to_have_attribute("data-sorted-by", "m:log_loss:asc")
    assert rows(page)[0] == "iris-C=100.0"
    assert "sort=m%3Alog_loss" in page.url or "sort=m:log_loss" in page.url
    # sort by a param (strings that are numbers sort numerically)
    page.locator(".gh[data-col='p:C']").click()
    expect(grid).to_have_attribute("data-sorted-by", "p:C:asc")
    assert rows(page)[:3] == ["iris-C=0.01", "iris-C=0.1", "iris-C=0.5"]

    # server-side search with OR and parentheses
    search = page.get_by_label("Filter runs")
    search.fill("(params.C = '1.0' OR params.C = '10.0') AND metrics.accuracy > 0.5")
    search.press("Enter")
    expect(page.locator(".count")).to_have_text("2 runs")
    assert sorted(rows(page)) == ["iris-C=1.0", "iris-C=10.0"]
    assert "q=" in page.url
    # the URL restores the view
    page.reload()
    expect(page.locator(".count")).to_have_text("2 runs")
    expect(page.get_by_label("Filter runs")).to_have_value(
        "(params.C = '1.0' OR params.C = '10.0') AND metrics.accuracy > 0.5"
    )

    # a syntax error is shown inline
    search.fill("metrics.accuracy >>> 1")
    search.press("Enter")
    expect(page.locator(".search-error")).to_contain_text("Invalid filter")
    expect(search).to_have_class(re.compile("invalid"))

    # status filter
    search.fill("")
    search.press("Enter")
    page.get_by_label("Status filter").select_option("FAILED")
    expect(page.locator(".empty")).to_contain_text("No runs match")
    page.get_by_label("Status filter").select_option("")
    expect(page.locator(".count")).to_have_text("11 runs")

    # column chooser: hide a metric, show a tag
    page.get_by_role("button", name="Columns").click()
    page.locator(".chooser label.chk[data-col='m:f1'] input").uncheck()
    page.locator(".chooser label.chk[data-col='t:model'] input").check()
    expect(page.locator(".gh[data-col='m:f1']")).to_have_count(0)
    expect(page.locator(".gh[data-col='t:model']")).to_have_count(1)
    assert "cols=" in page.url
    page.get_by_role("button", name="Close").click()

    # CSV download of what is shown
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 11
    assert "tags.model" in table[0] and "metrics.f1" not in table[0]
    by_name = {r["run_name"]: r for r in table}
    assert float(by_name["iris-C=1.0"]["metrics.accuracy"]) == pytest.approx(0.9053, abs=1e-3)


def _csv_of_runs_table(page: Page, url: str) -> tuple[str, list[str]]:
    """Open a runs table, download its CSV; also the API paths the page used to list runs."""
    paths: list[str] = []
    page.on(
        "request",
        lambda r: (
            paths.append(r.url.split("?")[0].split("/ajax-api/2.0/")[-1]) if "/ajax-api/" in r.url else None
        ),
    )
    page.goto(url)
    expect(page.locator(".grid")).to_have_attribute("data-complete", "1")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    return Path(dl.value.path()).read_text(encoding="utf-8"), paths


def test_runs_table_from_columns_helper_equals_standard_api(page: Page, ui_server: UiServer) -> None:
    """The columnar helper (runs/table) and the fallback (runs/search, e.g. against MLflow) give the same table."""
    s = ui_server.seeded
    cols = (
        "a:run_name,a:start_time,a:duration,a:status,a:user_id,a:source,a:lifecycle,a:experiment_id,"
        "m:accuracy,m:log_loss,p:C,t:model,t:mlflow.parentRunId"
    )
    url = f"{ui_server.url}/#/experiments/{s.iris_exp},{s.misc_exp}?life=ALL&expand=1&cols={cols}"
    via_helper, paths = _csv_of_runs_table(page, url)
    assert "bakehouse/runs/table" in paths and "mlflow/runs/search" not in paths, paths
    page.context.route(
        "**/ajax-api/2.0/bakehouse/runs/table*", lambda route: route.fulfill(status=404, body="{}")
    )
    fresh = page.context.new_page()
    via_search, paths = _csv_of_runs_table(fresh, url)
    assert "mlflow/runs/search" in paths, paths
    table = list(csv.DictReader(io.StringIO(via_helper)))
    assert (
        len(table) >= 15
        and any(r["tags.model"] for r in table)
        and any(r["tags.mlflow.parentRunId"] for r in table)
    )
    assert via_helper == via_search
    fresh.close()


def test_runs_table_select_delete_restore_and_compare(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    open_runs_table(page, ui_server.url, s.misc_exp)
    row = page.locator(".gr", has_text="crashed")
    row.locator("input[type=checkbox]").check()
    expect(page.locator(".toolbar .muted", has_text="1 selected")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".gr", has_text="crashed")).to_have_count(0)
    page.get_by_label("Lifecycle filter").select_option("DELETED_ONLY")
    expect(page.locator(".count")).to_have_text("1 run")
    page.locator(".gr", has_text="crashed").locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Restore").click()
    expect(page.locator(".empty")).to_be_visible()
    page.get_by_label("Lifecycle filter").select_option("ACTIVE_ONLY")
    expect(page.locator(".gr", has_text="crashed")).to_have_count(1)

    # keyboard: focus the grid, move down, select with space, open with enter
    open_runs_table(page, ui_server.url, s.iris_exp)
    page.locator(".grid").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    expect(page.locator(".gr.selected")).to_have_count(1)
    second = page.locator(".gr.cursor .namecell a").text_content()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(second)


def test_run_page_overview_description_tags_and_xss(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    page.goto(f"{ui_server.url}/#/experiments/{s.misc_exp}/runs/{s.artifact_run}")
    expect(page.locator("h1")).to_have_text('artifacts <img src=x onerror="window.__xss=1">')
    desc = page.locator(".desc")
    expect(desc.locator("strong")).to_have_text("artifacts")
    expect(desc.locator("a")).to_have_attribute("href", "https://example.com")
    expect(desc).to_contain_text("<script>window.__xss=1</script>")  # shown as text
    expect(page.locator("table.kvt td.val", has_text="onerror")).to_have_count(2)  # the param and the tag
    expect(page.locator("table.metrics tbody tr")).to_have_count(1)
    expect(page.locator("table.metrics svg.spark polyline")).to_have_count(1)  # sparkline drawn
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    shot(page, "run-overview", full_page=True)

    # edit the description (stored in tag mlflow.note.content)
    page.locator("section", has_text="Description").get_by_role("button", name="Edit").click()
    page.get_by_label("Description (Markdown)").fill("Updated *from the browser*")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".desc em")).to_have_text("from the browser")
    # add a tag
    page.get_by_role("button", name="Add tag").click()
    page.get_by_label("Key").fill("reviewed")
    page.get_by_label("Value").fill("yes")
    page.get_by_role("button", name="OK").click()
    expect(page.locator("table.tags")).to_contain_text("reviewed")
    run = MlflowClient(ui_server.url).get_run(s.artifact_run)
    assert run.data.tags["reviewed"] == "yes"
    assert run.data.tags["mlflow.note.content"] == "Updated *from the browser*"

    # parent / child links and git commit
    page.goto(f"{ui_server.url}/#/runs/{s.child_runs[0]}")
    expect(page.locator("table.kv")).to_contain_text(s.parent_run)
    page.goto(f"{ui_server.url}/#/runs/{s.iris_runs['1.0']}")
    expect(page.locator("table.kv")).to_contain_text("03ab3f9c0d1e2f")
    expect(page.locator("table.kv")).to_contain_text("train.py")
    # the registered model version made from this run is linked from its page
    expect(
        page.locator("section", has_text="Models").get_by_role("link", name="iris-classifier v2")
    ).to_be_visible()


def test_artifact_browser_previews(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    base = f"{ui_server.url}/#/experiments/{s.misc_exp}/runs/{s.artifact_run}?tab=artifacts"
    page.goto(base + "&path=model/MLmodel")
    body = page.locator(".art-body")
    expect(body.locator(".mlmodel")).to_contain_text("python_function, sklearn")
    expect(body.locator("table.sig").first.locator("tbody tr")).to_have_count(4)
    expect(body.locator("table.sig").first).to_contain_text("petal width (cm)")
    expect(body.locator(".snippet")).to_contain_text(f"runs:/{s.artifact_run}/model")
    shot(page, "artifacts-mlmodel")

    page.locator(".art-item", has_text="predictions.csv").click()
    expect(body.locator("table.csv tbody tr")).to_have_count(3)
    expect(body.locator("table.csv")).to_contain_text("virginica, maybe")
    page.locator(".art-item", has_text="metrics.json").click()
    expect(body.locator("pre")).to_contain_text('"per_class": [')
    page.locator(".art-item", has_text="config.yaml").click()
    expect(body.locator("pre")).to_contain_text("layers: [64, 32]")
    page.locator(".art-item", has_text="plot.png").click()
    img = body.locator("img.art-img")
    expect(img).to_be_visible()
    page.wait_for_function("document.querySelector('img.art-img').naturalWidth === 64")
    page.locator(".art-item", has_text="report.html").click()
    frame = body.locator("iframe.art-html")
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe.art-html").locator("h1")).to_have_text("Report")
    assert page.evaluate("window.__xss") is None  # the artifact's script did not run
    href = page.get_by_role("link", name="Download").get_attribute("href")
    assert href and "get-artifact" in href and "report.html" in href
    shot(page, "artifacts-html")


def test_metric_chart_100k_points_downsampled(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    page.goto(f"{ui_server.url}/#/charts?runs={s.long_run}&keys=signal")
    plot = page.locator(".plot[data-metric='signal']")
    expect(plot).to_have_attribute("data-render-ms", re.compile(r"\d+"), timeout=20_000)
    assert plot.get_attribute("data-stored") == "100000"
    points = int(plot.get_attribute("data-points") or 0)
    assert 1000 <= points <= 2000
    expect(plot.locator("svg.main-svg").first).to_be_visible()
    expect(plot).to_contain_text("downsampled on the server")
    # the envelope keeps the single spike at step 54,321 (value ~3.9) although it is 1 point in 100,000
    ymax = page.evaluate(
        "Math.max(...document.querySelector(\".plot[data-metric='signal']\").data.flatMap(t => t.y.filter(Number.isFinite)))"
    )
    assert ymax > 3.5
    shot(page, "chart-100k")
    # warm (plotly cached): the whole fetch + draw is well under a second
    page.reload()
    expect(plot).to_have_attribute("data-render-ms", re.compile(r"\d+"), timeout=20_000)
    assert int(plot.get_attribute("data-render-ms") or 0) < 1000
    # x axis and log scale controls
    page.get_by_label("X axis").select_option("relative")
    expect(plot.locator(".xtitle")).to_have_text("Seconds since start")
    assert "x=relative" in page.url


def test_a_constant_axis_in_parallel_coordinates_shows_its_value_once(
    page: Page, ui_server: UiServer
) -> None:
    s = ui_server.seeded
    ids = ",".join(s.iris_runs.values())
    page.goto(f"{ui_server.url}/#/compare?runs={ids}&pc=p%3AC,p%3Amax_iter,m%3Aaccuracy")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", "7")
    # every run has max_iter=200: one tick, in the middle of the axis, not five labels reading 200
    expect(pc.locator(".pc-axis[data-axis='p:max_iter'] .pc-tick")).to_have_text(["200"])
    assert pc.locator(".pc-axis[data-axis='p:C'] .pc-tick").all_text_contents() == [
        "0.01",
        "0.1",
        "1",
        "10",
        "100",
    ]


def test_compare_view_parallel_coordinates_iris(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    ids = ",".join(s.iris_runs.values())
    page.goto(f"{ui_server.url}/#/compare?runs={ids}")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", "7")
    titles = pc.locator(".pc-title").all_text_contents()
    assert titles[:2] == ["C", "solver"] and "accuracy" in titles
    assert titles[-1] == "accuracy"  # the color axis
    # tick labels of the C axis span 0.01 .. 100, on a log scale (4 orders of magnitude)
    ticks = pc.locator(".pc-axis[data-axis='p:C'] .pc-tick").all_text_contents()
    assert ticks == ["0.01", "0.1", "1", "10", "100"]
    expect(pc.locator(".pc-axis[data-axis='p:C'] .pc-note")).to_have_text("log scale")
    # the canvas really has lines drawn on it
    painted = page.evaluate("""() => { const c = document.querySelector('.pc-canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert painted > 2000
    shot(page, "compare-parallel-coordinates-iris")

    # brushing on the accuracy axis keeps only the high-accuracy runs
    hit = pc.locator(".pc-axis[data-axis='m:accuracy'] .pc-hit")
    box = hit.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3, steps=4)
    page.mouse.up()
    kept = int(pc.get_attribute("data-lines") or 0)
    assert 1 <= kept < 7

    # side-by-side table: "differences only" hides max_iter (same everywhere)
    table = page.locator("table.compare")
    expect(table.locator("th", has_text="max_iter")).to_have_count(1)
    page.get_by_label("Differences only").check()
    expect(table.locator("th", has_text="max_iter")).to_have_count(0)
    expect(table.locator("th", has_text="solver")).to_have_count(1)

    # scatter and contour (plotly, lazily loaded)
    page.locator("#scatter-plot").scroll_into_view_if_needed()
    expect(page.locator("#scatter-plot")).to_have_attribute("data-points", "7")
    expect(page.locator("#scatter-plot .scatterlayer .point")).to_have_count(7)
    page.locator("#contour-plot").scroll_into_view_if_needed()
    expect(page.locator("#contour-plot .contourlayer path").first).to_be_attached()
    shot(page, "compare-scatter-contour")


def test_parallel_coordinates_for_a_whole_experiment(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    open_runs_table(page, ui_server.url, s.iris_exp)
    page.get_by_role("link", name="Parallel coordinates (all)").click()
    expect(page.locator(".parcoords")).to_have_attribute("data-lines", "11")


def test_charts_for_selected_runs(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    open_runs_table(page, ui_server.url, s.iris_exp)
    for name in ("iris-C=0.1", "iris-C=1.0", "iris-C=10.0"):
        page.locator(".gr", has_text=name).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Chart metrics").click()
    plot = page.locator(".plot[data-metric='train_loss']")
    expect(plot).to_have_attribute("data-points", "120")  # 3 runs x 40 steps
    expect(plot.locator(".scatterlayer .trace")).to_have_count(3)
    page.get_by_label("Log scale").check()
    expect(plot.locator(".ytick").first).to_be_attached()
    assert "log=1" in page.url
    shot(page, "charts-runs")
    # without a selection: the runs that have the metric, found by the server (no scan of every run)
    page.goto(f"{ui_server.url}/#/charts?experiments={s.iris_exp}&keys=train_loss")
    plot = page.locator(".plot[data-metric='train_loss']")
    expect(plot).to_have_attribute("data-points", "280")  # the 7 IrisProject runs x 40 steps
    expect(plot.locator(".scatterlayer .trace")).to_have_count(7)


def test_registry_screens(page: Page, ui_server: UiServer) -> None:
    page.goto(ui_server.url + "/#/models")
    table = page.locator("table.models")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("@champion → v2")
    page.get_by_label("Search models").fill("nothing-like-this")
    page.get_by_label("Search models").press("Enter")
    expect(page.locator(".empty")).to_contain_text("No model matches")
    page.get_by_label("Search models").fill("iris")
    page.get_by_label("Search models").press("Enter")
    expect(table.locator("tbody tr")).to_have_count(1)
    shot(page, "models")

    table.get_by_role("link", name="iris-classifier").click()
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(3)
    expect(versions.nth(1)).to_contain_text("Production")
    expect(versions.nth(1)).to_contain_text("@champion")
    expect(versions.nth(2)).to_contain_text("Archived")
    expect(page.locator(".desc strong")).to_have_text("classifier")
    shot(page, "model")

    versions.nth(1).get_by_role("link", name="Version 2").click()
    expect(page.locator("h1")).to_contain_text("version 2")
    expect(page.get_by_label("Stage")).to_have_value("Production")
    expect(page.locator(".mlmodel table.sig").first).to_contain_text("sepal length (cm)")
    expect(page.locator("table.history tbody tr").first).to_be_attached()
    expect(page.locator("table.history")).to_contain_text("champion")
    shot(page, "model-version", full_page=True)
    # change the stage from the page
    page.get_by_label("Stage").select_option("Staging")
    expect(page.get_by_label("Stage")).to_have_value("Staging")
    expect(
        page.get_by_text("Moved to Staging")
    ).to_be_visible()  # the server answered (the select changes first)
    mv = MlflowClient(ui_server.url).get_model_version("iris-classifier", "2")
    assert mv.current_stage == "Staging"
    page.get_by_role("link", name=ui_server.seeded.iris_runs["1.0"]).click()
    expect(page.locator("h1")).to_have_text("iris-C=1.0")


def test_live_updates_of_a_running_run(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    client = MlflowClient(ui_server.url)
    page.goto(f"{ui_server.url}/#/runs/{s.running_run}")
    expect(page.locator(".page-head .badge").first).to_have_text("RUNNING")
    expect(page.locator("table.metrics tbody tr")).to_have_count(1)
    client.log_metric(s.running_run, "loss", 0.25, step=1)
    client.log_metric(s.running_run, "accuracy", 0.75, step=1)
    expect(page.locator("table.metrics tbody tr")).to_have_count(2, timeout=10_000)
    expect(page.locator("table.metrics")).to_contain_text("0.25")
    client.set_terminated(s.running_run, "FINISHED")
    expect(page.locator(".page-head .badge").first).to_have_text("FINISHED", timeout=10_000)


def test_narrow_window_and_empty_and_error_states(page: Page, ui_server: UiServer) -> None:
    s = ui_server.seeded
    page.set_viewport_size({"width": 420, "height": 800})
    open_runs_table(page, ui_server.url, s.iris_exp)
    assert page.evaluate("document.documentElement.scrollWidth") <= 420  # the table scrolls, not the page
    shot(page, "narrow-runs")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{ui_server.url}/#/experiments/{s.empty_exp}")
    expect(page.locator(".empty")).to_contain_text("no runs yet")
    page.goto(f"{ui_server.url}/#/runs/does-not-exist")
    expect(page.locator(".error")).to_contain_text("not found")
    page.goto(f"{ui_server.url}/#/no/such/page")
    expect(page.locator("h2")).to_have_text("Page not found")


def test_first_page_is_small_and_plotly_is_lazy(page: Page, ui_server: UiServer) -> None:
    sizes: dict[str, int] = {}

    def on_response(resp):
        if "/static-files/" in resp.url:
            sizes[resp.url] = int(resp.headers.get("content-length") or len(resp.body()))

    page.on("response", on_response)
    open_runs_table(page, ui_server.url, ui_server.seeded.iris_exp)
    assert not any("plotly" in u for u in sizes)
    assert 0 < sum(sizes.values()) < 1_500_000
    page.goto(f"{ui_server.url}/#/charts?runs={ui_server.seeded.iris_runs['1.0']}&keys=train_loss")
    expect(page.locator(".plot[data-metric='train_loss'] svg.main-svg").first).to_be_visible()
    plotly = [u for u in sizes if "plotly" in u]
    assert plotly and sizes[plotly[0]] < 1_700_000  # 4.8 MB gzip'd on the wire
