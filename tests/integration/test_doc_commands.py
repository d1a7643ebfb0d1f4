"""The documented commands work from a fresh checkout: each document's command blocks, run in order.

Which lines are commands, and what `# expect:`, `# needs:`, `# skip:` and `# background` mean, is
in tests/doc_commands.py. Each document runs in its own fresh copy of the checkout: the files git
tracks plus untracked ones it does not ignore, as they are in the working tree (what a clone of the
commit you are about to make would hold; in CI, exactly the clone). No `.stockmind/`, no outputs, no
stack: whatever a command needs, an earlier documented command must have made. The shell gets the
project's environment (the venv on PATH, this copy on PYTHONPATH) and none of the variables that
name a deployment, so a stack or an AWS account of the caller's is never touched.

Each command is one test, run in document order; after a failure the rest of that document is
skipped. A document's services are stopped (and its copy removed) after its last command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stockmind.local.ports import free_port
from tests.doc_commands import Command, documented_commands

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/deploy.md", "notebooks/README.md")
COMMAND_TIMEOUT_S = 420  # the slowest, the small notebook run, takes ~2 min on a loaded 2-core machine
# Variables that name a deployment (or a stack) of the caller's: a fresh shell has none of them.
CALLER_VARIABLES = re.compile(r"^(AWS_|STOCKMIND_|RAY_|SQS_|S3_|DATABASE_URL$|EMBEDDING_SERVICE_URL$|"
                              r"PYTHONPATH$|VIRTUAL_ENV$)")

COMMANDS = [(document, command) for document in DOCUMENTS
            for command in documented_commands((REPO / document).read_text())]

pytestmark = pytest.mark.slow


def fresh_checkout(destination: Path) -> Path:
    """Copy what a clone of the working tree would hold into `destination`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    # A git work tree like a clone: what the documents run may ask git (`git check-ignore`, and Ray's
    # working_dir packager follows .gitignore).
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run(["git", "add", "-A"], cwd=destination, check=True)
    return destination


def project_environment(checkout: Path) -> dict[str, str]:
    venv = Path(sys.executable).parent.parent
    env = {name: value for name, value in os.environ.items() if not CALLER_VARIABLES.match(name)}
    return {
        **env,
        "VENV": str(venv),
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        # The venv's editable install points at the real checkout; the copy's code must be what runs.
        "PYTHONPATH": str(checkout),
        # Port 8000 may be taken on a shared machine; `stockmind local up` reads this as its default.
        "STOCKMIND_SERVICE_PORT": str(free_port()),
    }


@dataclass
class Outcome:
    returncode: int
    output: str


@dataclass
class DocumentRun:
    """One bash for one document, in its own fresh checkout, so `source` and variables carry over."""

    document: str
    folder: Path
    shell: subprocess.Popen
    ran: int = 0
    failed_at: int | None = None
    logs: Path = field(init=False)

    def __post_init__(self) -> None:
        self.logs = self.folder / "logs"
        self.logs.mkdir()

    @classmethod
    def start(cls, document: str) -> DocumentRun:
        # Outside pytest's tmp (mode 0700): the PostgreSQL server user must traverse to the copy's .stockmind.
        folder = Path(tempfile.mkdtemp(prefix="stockmind-doc-"))
        checkout = fresh_checkout(folder / "checkout")
        shell = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=checkout, env=project_environment(checkout),
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 text=True, start_new_session=True)
        return cls(document, folder, shell)

    @property
    def checkout(self) -> Path:
        return self.folder / "checkout"

    def run(self, command: Command, timeout_s: float = COMMAND_TIMEOUT_S) -> Outcome:
        self.ran += 1
        output, done = self.logs / f"{self.ran:02d}.out", self.logs / f"{self.ran:02d}.rc"
        redirect = f">{shlex.quote(str(output))} 2>&1 </dev/null"
        status = shlex.quote(str(done))
        if command.background:
            script = f"{{ {command.text}\n}} {redirect} &\necho 0 >{status}.part && mv {status}.part {status}\n"
        else:
            script = f"{{ {command.text}\n}} {redirect}\necho $? >{status}.part && mv {status}.part {status}\n"
        self.shell.stdin.write(script)
        self.shell.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while not done.exists():
            if self.shell.poll() is not None:
                return Outcome(-1, _read(output) + "\n[the shell exited]")
            if time.monotonic() > deadline:
                self.stop_shell()
                return Outcome(-1, _read(output) + f"\n[still running after {timeout_s:.0f} s: stopped]")
            time.sleep(0.2)
        return Outcome(int(done.read_text()), _read(output))

    def stop_shell(self) -> None:
        """The shell and everything it started in its session (background servers, a hung command)."""
        if self.shell.poll() is None:
            self.shell.stdin.close()
        try:
            os.killpg(self.shell.pid, signal.SIGTERM)
            self.shell.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.shell.pid, signal.SIGKILL)
            self.shell.wait(timeout=15)

    def close(self) -> None:
        """Stop what the document started; keep the copy (and its logs) when a command failed."""
        self.stop_shell()
        from stockmind.local.stack import LocalStack

        # `stockmind local up` starts its services in their own sessions; a document that stopped
        # early leaves them up.
        for state in self.checkout.rglob("stack.json"):
            stack = LocalStack.load(state.parent)
            if stack:
                stack.down(keep_data=self.failed_at is not None)
        if self.failed_at is None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def document_runs():
    runs: dict[str, DocumentRun] = {}
    yield runs
    for run in runs.values():
        run.close()


def _is_last_to_run(document: str, command: Command) -> bool:
    runnable = [c for d, c in COMMANDS if d == document and not c.skip_reason]
    return command is runnable[-1]


@pytest.mark.parametrize("document, command", COMMANDS, ids=[f"{d}:{c.line}" for d, c in COMMANDS])
def test_documented_command(document, command, document_runs):
    if command.skip_reason:
        pytest.skip(f"{document}:{command.line} `{command.text.splitlines()[0][:60]}`: {command.skip_reason}")
    run = document_runs.get(document)
    if run is None:
        run = document_runs[document] = DocumentRun.start(document)
    try:
        if run.failed_at is not None:
            pytest.skip(f"an earlier command of {document} (line {run.failed_at}) failed")
        outcome = run.run(command)
        shown = (f"{document}:{command.line}\n$ {command.text}\n--- exit {outcome.returncode}, output:\n"
                 f"{outcome.output[-4000:]}\n--- the copy it ran in, with its logs, is kept: {run.checkout}")
        if outcome.returncode != 0 or (command.expect and not re.search(command.expect, outcome.output, re.MULTILINE)):
            run.failed_at = command.line
        assert outcome.returncode == 0, shown
        if command.expect:
            assert re.search(command.expect, outcome.output, re.MULTILINE), f"no match for {command.expect!r}\n{shown}"
    finally:
        if _is_last_to_run(document, command):
            document_runs.pop(document).close()
