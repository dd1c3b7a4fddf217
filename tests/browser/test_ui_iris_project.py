"""The seeds' comparison: the real IrisProject (``examples/iris-project``) run by ``bakehouse run`` for
several values of C, then compared in the parallel coordinates plot. Saves the docs screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_harness import REPO, UiServer, shot
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

C_VALUES = ["0.01", "0.03", "0.1", "1", "100"]


def test_iris_project_sweep_in_parallel_coordinates(page: Page, ui_server: UiServer, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "bakehouse"
    env = {**os.environ, "BAKEHOUSE_TRACKING_URI": ui_server.url}
    proc = subprocess.run(
        [
            str(exe),
            "run",
            str(REPO / "examples" / "iris-project"),
            "--sweep",
            "C=" + ",".join(C_VALUES),
            "--parallel",
            "2",
            "--env-manager",
            "local",
            "--experiment-name",
            "IrisProject-sweep",
            "--tracking-uri",
            ui_server.url,
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = MlflowClient(ui_server.url)
    exp = client.get_experiment_by_name("IrisProject-sweep")
    children = client.search_runs([exp.experiment_id], "params.C != ''")
    assert sorted(float(r.data.params["C"]) for r in children) == sorted(float(c) for c in C_VALUES)
    assert all("accuracy" in r.data.metrics for r in children)

    page.goto(f"{ui_server.url}/#/experiments/{exp.experiment_id}")
    expect(page.locator(".grid")).to_have_attribute("data-complete", "1")
    page.get_by_role("button", name=f"Expand {len(C_VALUES)} child runs").click()
    expect(page.locator(".grid-body .gr")).to_have_count(len(C_VALUES) + 1)
    shot(page, "iris-project-runs")

    ids = ",".join(r.info.run_id for r in children)
    page.goto(f"{ui_server.url}/#/compare?runs={ids}&pc=p%3AC,m%3Af1,m%3Aaccuracy")
    pc = page.locator(".parcoords")
    expect(pc).to_have_attribute("data-lines", str(len(C_VALUES)))
    assert pc.locator(".pc-title").all_text_contents() == ["C", "f1", "accuracy"]
    expect(pc.locator(".pc-axis[data-axis='p:C'] .pc-note")).to_have_text("log scale")
    accuracies = sorted(r.data.metrics["accuracy"] for r in children)
    ticks = pc.locator(".pc-axis[data-axis='m:accuracy'] .pc-tick").all_text_contents()
    assert float(ticks[0]) == pytest.approx(accuracies[0], abs=1e-3)
    assert float(ticks[-1]) == pytest.approx(accuracies[-1], abs=1e-3)
    page.locator(".parcoords").scroll_into_view_if_needed()
    shot(page, "iris-project-parallel-coordinates")
