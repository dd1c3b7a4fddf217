"""Grid sweeps: one parent run, one child run per combination, N at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)

SWEEP_SCRIPT = """\
import time
start = time.time()  # before the slow imports, so that two children started together overlap for sure
import sys, bakehouse
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
with bakehouse.start_run():
    time.sleep(1.0)
    bakehouse.log_metrics({"start": start, "end": time.time(), "score": float(args["--C"]) * int(args["--max-iter"])})
    print("trained", flush=True)
"""


@pytest.fixture
def sweep_project(tmp_path: Path, new_project: Callable[..., Path]) -> Path:
    return new_project(
        tmp_path / "sweep",
        """\
        name: sweep
        entry_points:
          main:
            parameters:
              C: {type: float, default: 1.0}
              max_iter: {type: int, default: 100}
              solver: {type: string, default: lbfgs}
            command: "python train.py --C {C} --max-iter {max_iter}"
        """,
        {"train.py": SWEEP_SCRIPT},
    )


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def test_two_by_three_sweep_in_parallel(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], sweep_project: Path
) -> None:
    result = run_cli(
        str(sweep_project),
        "--sweep",
        "C=0.1,1",
        "--sweep",
        "max_iter=10,100,1000",
        "--parallel",
        "2",
        "--run-name",
        "grid",
    )
    assert result.returncode == 0, result.output
    found = runs()
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 6
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "grid"
    assert parent.data.params == {"solver": "lbfgs"}
    assert parent.data.tags["bakehouse.sweep"] == '{"C": ["0.1", "1"], "max_iter": ["10", "100", "1000"]}'
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert all(r.info.status == "FINISHED" for r in children)
    combos = sorted((r.data.params["C"], r.data.params["max_iter"]) for r in children)
    assert combos == [
        ("0.1", "10"),
        ("0.1", "100"),
        ("0.1", "1000"),
        ("1", "10"),
        ("1", "100"),
        ("1", "1000"),
    ]
    for run in children:
        assert run.data.params["solver"] == "lbfgs"
        assert run.data.metrics["score"] == pytest.approx(
            float(run.data.params["C"]) * int(run.data.params["max_iter"])
        )
        assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert sorted(r.info.run_name for r in children) == [f"grid-{i}" for i in range(1, 7)]
    overlap = max_overlap([(r.data.metrics["start"], r.data.metrics["end"]) for r in children])
    assert overlap == 2  # two at a time, never more
    # in parallel, each child's output lines are prefixed with its combination
    assert "[C=0.1 max_iter=10] trained" in result.stdout
    assert "[C=1 max_iter=1000] trained" in result.stdout


def test_sweep_value_of_wrong_type_refused_before_any_run(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], sweep_project: Path
) -> None:
    result = run_cli(str(sweep_project), "--sweep", "C=0.1,big", "--sweep", "max_iter=10")
    assert result.returncode == 1
    assert (
        "Sweep combination C=big max_iter=10: parameter 'C' of type float got 'big': not a number"
        in " ".join(result.stderr.split())
    )
    assert runs() == []


def test_sweep_with_a_failing_child_fails_the_parent(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], sweep_project: Path
) -> None:
    (sweep_project / "train.py").write_text(
        "import sys\nsys.exit(1 if sys.argv[sys.argv.index('--C') + 1] == '2.0' else 0)\n"
    )
    result = run_cli(str(sweep_project), "--sweep", "C=1.0,2.0")
    assert result.returncode == 1
    found = runs()
    parent = next(r for r in found if "mlflow.parentRunId" not in r.data.tags)
    statuses = {r.data.params["C"]: r.info.status for r in found if "mlflow.parentRunId" in r.data.tags}
    assert statuses == {"1.0": "FINISHED", "2.0": "FAILED"}
    assert parent.info.status == "FAILED"


def test_ctrl_c_stops_a_parallel_sweep(
    tmp_path: Path,
    sweep_project: Path,
    runs: Callable[[], list[Any]],
    cli_environ: dict[str, str],
    bakehouse_exe: Path,
) -> None:
    import signal
    import subprocess
    import time

    pids = tmp_path / "pids"
    pids.mkdir()
    (sweep_project / "train.py").write_text(
        "import os, time, pathlib, bakehouse\n"
        "with bakehouse.start_run():\n"
        f"    pathlib.Path({str(pids)!r}, str(os.getpid())).write_text('x')\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen(
        [str(bakehouse_exe), "run", str(sweep_project), "--sweep", "C=1,2,3,4", "--parallel", "2"],
        cwd=tmp_path,
        env=cli_environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) == 2
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    for pid in started:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
        )
    found = runs()
    parent = next(r for r in found if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    assert parent.info.status == "KILLED"
    assert len(children) == 2  # the two waiting combinations were never started
    assert {r.info.status for r in children} == {"KILLED"}
