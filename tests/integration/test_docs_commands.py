"""Every shell command in README.md and docs/*.md runs, as written, on a fresh copy of the repository right
after README's command 1. The docs stay honest because the suite reads them.

How to write docs that this test runs (the convention):

- **What runs.** Commands a reader types go in fenced blocks labelled ```` ```bash ```` (or ``sh``/``shell``),
  one command per line (``\\`` continues a line, heredocs work), or ```` ```console ```` with a ``$ `` prompt
  before each command (the other lines are sample output and are not checked). Every other fence says what
  it holds (```` ```text ````, ``python``, ``yaml``, ``json``, ...): an unlabelled fence fails this test, so
  no command can hide from it. Inline ``code`` in sentences is not run.
- **Where and from what state.** Each page runs in its own bash session in the copy's root, starting from
  the state right after command 1 (``bash scripts/quickstart.sh --no-ui``: ``.venv`` installed, the iris
  run trained and registered as ``iris`` version 1 in ``./bakehouse.db``), with no venv activated and no
  ``BAKEHOUSE_*``/``MLFLOW_*`` variables. README's commands run in a shell where nothing is activated (so
  README must say ``source .venv/bin/activate``, and does); the pages of ``docs/`` run after that line, as
  a reader who followed README would. Blocks run in page order, sharing the session (``cd``, variables,
  files); a page stops at its first failing command (``set -o pipefail``).
- **Servers.** A command that serves until stopped (``bakehouse server``, ``bakehouse ui``, ``bakehouse
  models serve``, or any command ending in `` &``) is started in the background (its own process group);
  the next command runs once its port accepts connections, and every server of a page is stopped when the
  page ends (a server started on the port of an earlier one replaces it, as a reader would stop the first).
  The port is the one the command names (``-p``/``--port``), else 5000 for the three commands above; a
  background command must name its port. ``COMMAND & NAME=$!`` keeps the server's process id in ``NAME``
  for a later ``kill $NAME``, as in a reader's shell. Each server's output goes to a log of its own; when a
  page fails, the test shows the end of every log of that page under the page's output.
- **Ports.** The machine is shared, so every port a page names (``-p 5001``, ``--port 5000``,
  ``localhost:5001``, ``127.0.0.1:5000``, and the default 5000 above) is replaced by a free port, the same
  one for the whole page. Nothing else in a command is changed.
- **What does not run here.** A block preceded by ``<!-- docs-test: not-run: REASON -->`` (an HTML
  comment: invisible on the rendered page) is not run; REASON says why, and is printed with the test's
  output. It is for what this machine cannot do or must not repeat: another host or service (a git host on
  the internet, a Kubernetes cluster, your PostgreSQL and S3), the test suite itself, a benchmark. Keep such
  blocks short and separate from runnable ones.
- **Pages with a test of their own.** A page whose commands need inputs this test does not supply (a
  PostgreSQL database, an S3 bucket, Caddy) is run by its own test, which supplies them; it is listed in
  ``RUN_BY_THEIR_OWN_TEST`` with that test, and is not run twice (its fences are still checked here).
- **Run one page**: ``bash scripts/test.sh tests/integration/test_docs_commands.py -k projects``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-commands")]

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: page -> the test that runs its commands with the inputs they need (see the convention above)
RUN_BY_THEIR_OWN_TEST = {"deployment.md": REPO / "tests" / "integration" / "test_docs_deployment.py"}
SHELL_LANGS = {"bash", "sh", "shell"}
DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(?P<body>.*?)\s*-->$")
#: commands that serve until stopped (after optional VAR=value assignments), and their default port
SERVING = re.compile(r"^(?:\w+=\S*\s+)*bakehouse\s+(?:server|ui|models\s+serve)\b")
DEFAULT_PORT = 5000
PORT_FLAG = re.compile(r"(?P<flag>(?:^|\s)(?:-p|--port))(?P<sep>\s+|=)(?P<port>\d{2,5})\b")
PORT_IN_ADDRESS = re.compile(r"(?P<host>\b(?:localhost|127\.0\.0\.1|0\.0\.0\.0)|\[::1\]):(?P<port>\d{2,5})\b")
#: ``COMMAND & NAME=$!``: a server started in the background whose process id the page keeps in NAME
KEEPS_PID = re.compile(r"\s*&\s*(?P<name>[A-Za-z_]\w*)=\$!\s*$")
SETUP_COMMAND = "bash scripts/quickstart.sh --no-ui"
SERVER_LOG_TAIL = 4000
PAGE_TIMEOUT = 900


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence
    lang: str
    text: str
    not_run: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


@dataclass
class Command:
    where: str
    text: str  # as written in the docs
    serves: bool = False


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ reading
def read_page(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    directive: str | None = None
    while i < len(lines):
        stripped = lines[i].strip()
        match = DIRECTIVE.match(stripped)
        if match:
            directive = match.group("body")
            i += 1
            continue
        if stripped.startswith("```"):
            lang = stripped[3:].strip().split()[0] if stripped[3:].strip() else ""
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            block = Block(path, start + 1, lang, "\n".join(body))
            if directive is not None:
                reason = directive.removeprefix("not-run:").strip()
                if not directive.startswith("not-run:") or not reason:
                    page.problems.append(
                        f"{block.where}: unknown directive {directive!r} (expected 'not-run: REASON')"
                    )
                block.not_run = reason or directive
            if not lang:
                page.problems.append(
                    f"{block.where}: an unlabelled code block; label it (```bash, ```console, ```text, ...)"
                )
            page.blocks.append(block)
            directive = None
        elif stripped:
            directive = None
        i += 1
    return page


def commands(block: Block) -> list[Command]:
    """The logical commands of a runnable block (continuations joined, heredocs kept whole)."""
    if block.lang == "console":
        lines: list[str] = []
        continuing = False
        for raw in block.text.splitlines():
            if raw.startswith("$ ") or continuing:
                lines.append(raw[2:] if raw.startswith("$ ") and not continuing else raw)
                continuing = raw.rstrip().endswith("\\")
        source = lines
    else:
        source = block.text.splitlines()
    out: list[Command] = []
    buffer: list[str] = []
    heredoc: str | None = None
    for raw in source:
        if heredoc is not None:
            buffer.append(raw)
            if raw.strip() == heredoc:
                heredoc = None
                out.append(_command(block, buffer))
                buffer = []
            continue
        if not buffer and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        buffer.append(raw)
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", raw)
        if marker:
            heredoc = marker.group(1)
        elif not raw.rstrip().endswith("\\"):
            out.append(_command(block, buffer))
            buffer = []
    if buffer:
        out.append(_command(block, buffer))
    return out


def _command(block: Block, lines: list[str]) -> Command:
    text = "\n".join(lines)
    first = text.lstrip()
    bare = _without_comment(text)
    serves = bool(SERVING.match(first)) or bare.endswith("&") or bool(KEEPS_PID.search(bare))
    return Command(block.where, text, serves)


def _without_comment(text: str) -> str:
    """The command without a trailing `# comment` (good enough for docs: no '#' inside quotes there)."""
    return re.sub(r"\s+#[^'\"]*$", "", text.rstrip()).rstrip()


# ------------------------------------------------------------------------------------------------ ports
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortMap:
    """Each port a page names, replaced by one free port for the whole page."""

    def __init__(self) -> None:
        self.ports: dict[str, str] = {}

    def __getitem__(self, port: str) -> str:
        if port not in self.ports:
            self.ports[port] = str(free_port())
        return self.ports[port]

    def rewrite(self, text: str) -> str:
        text = PORT_FLAG.sub(lambda m: f"{m['flag']}{m['sep']}{self[m['port']]}", text)
        return PORT_IN_ADDRESS.sub(lambda m: f"{m['host']}:{self[m['port']]}", text)

    def serving(self, command: Command) -> tuple[str, str, str | None]:
        """The command to start in the background, the port to wait for, and the variable that keeps its
        process id (``COMMAND & NAME=$!``), if any."""
        text = _without_comment(command.text)
        keeps = KEEPS_PID.search(text)
        text = (text[: keeps.start()] if keeps else text.removesuffix("&")).rstrip()
        pid_variable = keeps["name"] if keeps else None
        named = PORT_FLAG.search(text)
        if named:
            return self.rewrite(text), self[named["port"]], pid_variable
        if SERVING.match(text.lstrip()):
            port = self[str(DEFAULT_PORT)]
            return f"{self.rewrite(text)} --port {port}", port, pid_variable
        raise AssertionError(f"{command.where}: a background command must name its port (-p/--port)")


# ------------------------------------------------------------------------------------------------ running
HARNESS = r"""
set -o pipefail
__pids=()
__stop() {
  for p in "${__pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  for p in "${__pids[@]}"; do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; done
  for p in "${__pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
}
trap __stop EXIT
__fail() { printf '\n__DOCS_TEST_FAILED__ %s\n' "$1"; exit 1; }
declare -A __on_port=()
__free_port() {  # PORT: stop the earlier server of this page listening there
  local pid="${__on_port[$1]:-}" i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null
  for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 0; sleep 0.2; done
}
__wait_port() {  # PORT PID LOG WHERE
  local i
  for i in $(seq 1 900); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then __fail "$4: the server exited before listening on port $1 (its output: $3)"; fi
    sleep 0.2
  done
  __fail "$4: nothing listened on port $1 after 180 s (its output: $3)"
}
"""


def page_script(page: Page, logs: Path) -> str:
    ports = PortMap()
    parts = [HARNESS]
    if page.path.name != "README.md":
        parts.append("source .venv/bin/activate  # README tells the reader to, once per shell")
    served = 0
    for block in page.blocks:
        if block.lang not in SHELL_LANGS | {"console"} or block.not_run is not None:
            continue
        for command in commands(block):
            shown = textwrap.indent(command.text, "  ")
            if command.serves:
                served += 1
                text, port, pid_variable = ports.serving(command)
                log = server_log(logs, page, served)
                parts.append(
                    f"printf '\\n[%s, in the background, port {port}]\\n%s\\n' {shlex.quote(command.where)} "
                    f"{shlex.quote(shown)}\n"
                    f"IFS= read -r -d '' __cmd <<'__DOCS_COMMAND__'\n{text}\n__DOCS_COMMAND__\n"
                    f"__free_port {port}\n"
                    f'setsid bash -c "$__cmd" > {shlex.quote(str(log))} 2>&1 < /dev/null &\n'
                    f"__pids+=($!); __on_port[{port}]=$!\n"
                    + (f"{pid_variable}=$!\n" if pid_variable else "")
                    + f"__wait_port {port} $! {shlex.quote(str(log))} {shlex.quote(command.where)}"
                )
            else:
                parts.append(
                    f"printf '\\n[%s]\\n%s\\n' {shlex.quote(command.where)} {shlex.quote(shown)}\n"
                    f"IFS= read -r -d '' __cmd <<'__DOCS_COMMAND__'\n{ports.rewrite(command.text)}\n"
                    "__DOCS_COMMAND__\n"
                    f'eval "$__cmd" < /dev/null || __fail {shlex.quote(command.where + ": " + command.text)}'
                )
    return "\n".join(parts) + "\n"


def server_log(logs: Path, page: Page, number: int) -> Path:
    """Where the output of a page's background command goes (one file per command and page)."""
    return logs / f"{page.path.stem}.server-{number}.log"


def server_logs_tail(logs: Path, page: Page) -> str:
    """The end of each background command's output of this page, to show why a page failed."""
    shown = []
    for log in sorted(
        logs.glob(f"{page.path.stem}.server-*.log"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
    ):
        text = log.read_text(errors="replace")
        cut = "...\n" if len(text) > SERVER_LOG_TAIL else ""
        shown.append(
            f"--- {log.name} (output of background command {log.stem.rsplit('-', 1)[1]}) ---\n"
            f"{cut}{text[-SERVER_LOG_TAIL:] or '(no output)'}"
        )
    return "\n".join(shown)


def reader_environment(cache: Path) -> dict[str, str]:
    """A new reader's shell: none of the test run's venv or settings, the usual HOME and system PATH."""
    venv_bin = str(Path(sys.executable).parent)
    path = [
        p
        for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if p and p != venv_bin and not p.rstrip("/").endswith((".venv/bin", "/venv/bin"))
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BAKEHOUSE_", "MLFLOW_", "PYTEST_", "COV_"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON")
    }
    env["PATH"] = os.pathsep.join(path)
    env["BAKEHOUSE_ENV_CACHE_DIR"] = str(cache)  # project environments, built once for all pages
    env["COLUMNS"] = "160"
    return env


def _copy_repository(target: Path) -> None:
    """The files a clone has: tracked and new (not ignored) ones, as they are in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        source = REPO / rel
        if not source.is_file():  # deleted in the working tree
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / rel)
    git = [
        "git",
        "-c",
        "user.name=docs",
        "-c",
        "user.email=docs@example.com",
        "-c",
        "init.defaultBranch=main",
    ]
    subprocess.run([*git, "init", "-q"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-qm", "a fresh clone"], cwd=target, check=True)


@dataclass
class Clone:
    root: Path
    snapshot: Path
    env: dict[str, str]
    logs: Path

    def reset(self) -> None:
        """Back to the state right after command 1 (the venv is kept: it is the same in both)."""
        for entry in self.root.iterdir():
            if entry.name == ".venv":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        shutil.copytree(self.snapshot, self.root, dirs_exist_ok=True, symlinks=True)


def _run(script: str, clone: Clone, name: str) -> tuple[int, str]:
    path = clone.logs / f"{name}.sh"
    log = clone.logs / f"{name}.log"
    path.write_text(script)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", str(path)],
            cwd=clone.root,
            env=clone.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = -1
    return code, log.read_text(errors="replace")


@pytest.fixture(scope="session")  # once per worker, whatever order the pages run in
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    base = tmp_path_factory.mktemp("docs")
    root = base / "bakehouse"
    root.mkdir()
    _copy_repository(root)
    logs = base / "logs"
    logs.mkdir()
    made = Clone(root, base / "after-command-1", reader_environment(base / "envs"), logs)
    code, output = _run(f"{SETUP_COMMAND}\n", made, "command-1")
    assert code == 0 and "QUICKSTART_OK" in output, f"command 1 failed:\n{output[-6000:]}"
    shutil.copytree(root, made.snapshot, ignore=shutil.ignore_patterns(".venv"), symlinks=True)
    yield made


def test_every_fence_is_labelled_and_every_directive_known() -> None:
    problems = [problem for path in PAGES for problem in read_page(path).problems]
    assert not problems, "\n".join(problems)


def test_readme_command_1_is_the_setup() -> None:
    first = read_page(REPO / "README.md").blocks[0]
    assert first.not_run is not None
    assert commands(Block(first.page, first.line, "bash", first.text))[0].text.startswith(
        "bash scripts/quickstart.sh"
    )


def test_pages_run_elsewhere_have_a_test_that_reads_them() -> None:
    for name, test in RUN_BY_THEIR_OWN_TEST.items():
        assert (REPO / "docs" / name).is_file(), f"{name} is gone: drop it from RUN_BY_THEIR_OWN_TEST"
        assert f'"{name}"' in test.read_text(encoding="utf-8"), f"{test.name} does not read docs/{name}"


@pytest.mark.timeout(PAGE_TIMEOUT * 2)
@pytest.mark.parametrize(
    "path", [p for p in PAGES if p.name not in RUN_BY_THEIR_OWN_TEST], ids=lambda p: p.stem
)
def test_the_commands_of_a_page_run_as_written(path: Path, clone: Clone) -> None:
    page = read_page(path)
    not_run = [f"{b.where}: {b.not_run}" for b in page.blocks if b.not_run is not None]
    if not_run:
        print("not run here:\n  " + "\n  ".join(not_run))
    clone.reset()
    for old_log in clone.logs.glob(f"{path.stem}.server-*.log"):
        old_log.unlink()
    code, output = _run(page_script(page, clone.logs), clone, path.stem)
    failed = re.search(r"__DOCS_TEST_FAILED__ (.*)", output)
    assert code == 0 and not failed, (
        f"{failed.group(1) if failed else f'{path.name}: exit {code}'}\n--- output (last lines) ---\n"
        + output[-8000:]
        + "\n"
        + server_logs_tail(clone.logs, page)
    )
