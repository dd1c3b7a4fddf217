"""Several processes logging into one embedded SQLite file at once lose nothing and raise nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bakehouse.client.client import Client

WORKER = textwrap.dedent(
    """
    import sys
    import bakehouse as bh

    worker, points, synchronous = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "sync"
    bh.set_experiment("concurrency")
    with bh.start_run(run_name=f"worker-{worker}"):
        bh.log_param("worker", worker)
        for step in range(points):
            bh.log_metric("value", worker * 100000 + step, step=step, synchronous=synchronous)
            if step % 500 == 0:
                bh.set_tag(f"progress", str(step))
    print("done", worker)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode, points", [("buffered", 2000), ("sync", 150)])
def test_eight_processes_log_into_one_sqlite_file(tmp_path: Path, mode: str, points: int) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {"BAKEHOUSE_TRACKING_URI": uri, "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), str(points), mode],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode()
        assert b"database is locked" not in err
        assert out.decode().startswith("done")

    client = Client(uri)
    experiment = client.get_experiment_by_name("concurrency")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == 8
    for run in runs:
        worker = int(run.data.params["worker"])
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "value")
        assert sorted(m.step for m in history) == list(range(points))
        assert sorted(m.value for m in history) == [worker * 100000 + s for s in range(points)]
        assert run.data.metrics["value"] == worker * 100000 + points - 1
