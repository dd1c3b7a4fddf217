"""``scripts/test.sh`` under ``CI=true``: a real component that does not start fails the run (it used to skip
its tests and print "TESTS PASSED"), and so does a test that changes the tree.

Each case runs the real script on a tiny target with the venv under test (``BAKEHOUSE_SKIP_INSTALL=1``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _test_sh(*args: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_TEST_", "PYTEST_"))}
    env.update({"CI": "true", "BAKEHOUSE_SKIP_INSTALL": "1", "BAKEHOUSE_TEST_WORKERS": "0", **extra_env})
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "test.sh"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


def test_a_component_that_does_not_start_fails_the_run_under_ci() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))  # bound, not listening: MariaDB cannot bind it, and a ping is refused
        port = busy.getsockname()[1]
        done = _test_sh("tests/unit/test_layers.py", extra_env={"MYPORT": str(port)})
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "TESTS FAILED: CI=true and MariaDB did not start" in output
    assert "TESTS PASSED" not in output and "passed" not in done.stdout  # pytest never ran


def test_a_test_that_changes_the_tree_fails_the_run_under_ci(tmp_path: Path) -> None:
    stray = REPO / "docs" / f"stray-{uuid.uuid4().hex[:8]}.txt"
    probe = tmp_path / "test_writes_into_the_tree.py"
    probe.write_text(
        f"from pathlib import Path\n\ndef test_writes() -> None:\n    Path({str(stray)!r}).write_text('x')\n"
    )
    try:
        done = _test_sh(str(probe), "-p", "no:randomly", extra_env={})
    finally:
        stray.unlink(missing_ok=True)
    output = done.stdout + done.stderr
    assert "1 passed" in done.stdout, output[-3000:]  # the test itself passed...
    assert done.returncode == 1  # ...but the run did not
    assert "The tests changed the tree:" in output and stray.name in output
    assert "TESTS FAILED: CI=true and the tests changed tracked or unignored files" in output
