"""docs/deployment.md, run as written: every ``bash`` block, in order, in one shell.

The page's inputs (a PostgreSQL database, an S3 bucket and its credentials) are the only thing the test
supplies, through the variables the page names; it also picks free ports through the variables the page
keeps when already set. A block may be skipped only when an HTML comment right above it says why
(``<!-- not run: ... -->``): those need a Docker engine, a cluster or the reader's own resources, and
every file they name must exist.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deployment_support import REPO, free_port, require_tool

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow, pytest.mark.timeout(420)]

PAGE = REPO / "docs" / "deployment.md"
BLOCK = re.compile(r"(?:<!--\s*not run:(?P<reason>[^>]*)-->\s*\n)?```bash\n(?P<body>.*?)```", re.DOTALL)


def blocks() -> list[tuple[str | None, str]]:
    """``(reason it is not run or None, commands)`` for every bash block of the page, in order."""
    return [
        (
            (m.group("reason") or "").strip() or None if m.group("reason") is not None else None,
            m.group("body"),
        )
        for m in BLOCK.finditer(PAGE.read_text())
    ]


def test_blocks_that_are_not_run_say_why_and_name_files_that_exist() -> None:
    found = blocks()
    assert len([b for b in found if b[0] is None]) >= 8  # the walk-through itself runs
    skipped = [(reason, body) for reason, body in found if reason is not None]
    # the install, your database and bucket, Docker, Kubernetes, a Google Cloud project, an Azure account
    assert len(skipped) <= 6
    for reason, body in skipped:
        assert reason and len(reason) > 20, f"a skipped block must say why: {body[:80]!r}"
        for path in re.findall(r"\bdeploy/[\w./-]+", body):
            assert (REPO / path).exists() or path == "deploy/.env", path


def test_the_deployment_page_runs_as_written(tmp_path: Path, postgres_uri: str, s3_bucket: str) -> None:
    require_tool("caddy")
    require_tool("docker-compose")
    require_tool("curl")
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    # the commands use paths of a checkout (deploy/...): a copy, so what they write stays out of the repo
    subprocess.run(["cp", "-r", str(REPO / "deploy"), str(workdir / "deploy")], check=True)
    script = "set -euo pipefail\n" + "\n".join(body for reason, body in blocks() if reason is None)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        # the page's inputs: the reader's database and bucket
        "BAKEHOUSE_BACKEND_STORE_URI": postgres_uri,
        "BAKEHOUSE_S3_BUCKET": s3_bucket,
        "BAKEHOUSE_S3_ENDPOINT_URL": os.environ["BAKEHOUSE_S3_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": "us-east-1",
        # free ports instead of the page's defaults (it keeps values already set), and Caddy's admin port
        "PORT_A": str(free_port()),
        "PORT_B": str(free_port()),
        "BAKEHOUSE_HTTPS_PORT": str(free_port()),
        "BAKEHOUSE_HTTP_PORT": str(free_port()),
        "BAKEHOUSE_CADDY_ADMIN": f"127.0.0.1:{free_port()}",
    }
    (tmp_path / "home").mkdir()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=360)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the page left running, if it failed half-way
        except ProcessLookupError:
            pass
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in workdir.glob("*.log"))
    assert proc.returncode == 0, f"{output[-6000:]}\n{logs}"
    # what the reader is told to expect
    assert '"status":"ready"' in output.replace(" ", "")
    assert "logged" in output.splitlines()
    assert "bakehouse_logged_metric_points_total" in output
    assert "alice" in output and "bob" in output
