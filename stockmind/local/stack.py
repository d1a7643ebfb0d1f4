"""`stockmind local up/down`: the embedded stack as one object with a state file.

`up` is idempotent (a running service is reused, a dead one restarted), `down` stops exactly what
`up` started (by the pids and process groups in the state file), and a crash leaves nothing that
blocks the next `up` (stale pid files are ignored, ports are chosen afresh when taken).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3

from stockmind.embed.models import SMALL_CLIP
from stockmind.local.aws_topology import create_topology
from stockmind.local.moto_server import MotoServer
from stockmind.local.ports import free_port, port_is_open
from stockmind.local.postgres import EmbeddedPostgres
from stockmind.local.ray_head import RAY_ENV, RayHead

log = logging.getLogger(__name__)

LOCAL_BUCKET = "stock-mind-media-local"
LOCAL_REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep the environment file reproducible.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
STATE_FILE = "stack.json"
ENV_FILE = "local.env"


def default_state_dir() -> Path:
    return Path(os.environ.get("STOCKMIND_STATE_DIR", Path.cwd() / ".stockmind")).resolve()


@dataclass
class LocalStack:
    state_dir: Path
    postgres: EmbeddedPostgres
    moto: MotoServer
    ray: RayHead | None
    queue_url: str
    dlq_url: str
    bucket: str = LOCAL_BUCKET
    region: str = LOCAL_REGION
    service_port: int = 8000

    def __post_init__(self) -> None:
        # Every path below it (pgdata, logs, the environment file) then holds for any caller's cwd.
        self.state_dir = Path(self.state_dir).resolve()

    # ----- lifecycle -------------------------------------------------------------------------

    @classmethod
    def up(cls, state_dir: Path | None = None, with_ray: bool = True, ray_cpus: int = 2,
           service_port: int = 8000) -> LocalStack:
        state_dir = Path(state_dir or default_state_dir()).resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        with _locked(state_dir):
            previous = cls.load(state_dir)
            postgres = _ensure_postgres(state_dir, previous.postgres if previous else None)
            moto = _ensure_moto(state_dir, previous.moto if previous else None)
            ray = _ensure_ray(state_dir, previous.ray if previous else None, ray_cpus) if with_ray else None
            if previous and previous.ray and not with_ray:
                previous.ray.stop()
            s3, sqs = _aws_clients(moto.endpoint_url)
            urls = create_topology(s3, sqs, LOCAL_BUCKET, LOCAL_REGION)
            stack = cls(state_dir, postgres, moto, ray, urls.queue_url, urls.dlq_url, service_port=service_port)
            stack._save()
        _migrate(stack.database_url)
        return stack

    @classmethod
    def load(cls, state_dir: Path | None = None) -> LocalStack | None:
        state_dir = Path(state_dir or default_state_dir()).resolve()
        path = state_dir / STATE_FILE
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        return cls(
            state_dir=state_dir,
            postgres=EmbeddedPostgres(Path(state["postgres"]["data_dir"]), state["postgres"]["port"]),
            moto=MotoServer(**state["moto"]),
            ray=RayHead(**state["ray"]) if state.get("ray") else None,
            queue_url=state["queue_url"],
            dlq_url=state["dlq_url"],
            service_port=state.get("service_port", 8000),
        )

    def down(self, keep_data: bool = False) -> None:
        with _locked(self.state_dir):
            if self.ray:
                self.ray.stop()
            self.moto.stop()
            self.postgres.stop()
            (self.state_dir / STATE_FILE).unlink(missing_ok=True)
            (self.state_dir / ENV_FILE).unlink(missing_ok=True)
            if not keep_data:
                # moto keeps S3/SQS in memory, so database rows would outlive the objects they index.
                shutil.rmtree(self.postgres.data_dir, ignore_errors=True)

    def status(self) -> dict[str, bool]:
        return {
            "postgres": self.postgres.is_running(),
            "moto": self.moto.is_running(),
            "ray": bool(self.ray and self.ray.is_running()),
        }

    def wait_for_queued(self, count: int, timeout_s: float = 120.0) -> None:
        """Until the media queue holds at least `count` messages (S3 notifies moto's SQS a moment
        after each PUT): benchmarks start timing a drain only once the whole backlog is there."""
        _, sqs = _aws_clients(self.endpoint_url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            depth = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
            if int(depth["Attributes"]["ApproximateNumberOfMessages"]) >= count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the queue did not reach {count} messages in {timeout_s:g} s")

    # ----- what clients need -----------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.postgres.url()

    @property
    def endpoint_url(self) -> str:
        return self.moto.endpoint_url

    @property
    def env_file(self) -> Path:
        return self.state_dir / ENV_FILE

    @property
    def env(self) -> dict[str, str]:
        """The seed's worker variables plus the local endpoints: what `source .stockmind/local.env` sets."""
        env = {
            "SQS_QUEUE_URL": self.queue_url,
            "S3_BUCKET_NAME": self.bucket,
            "AWS_REGION": self.region,
            "DATABASE_URL": self.database_url,
            "EMBEDDING_SERVICE_URL": f"http://127.0.0.1:{self.service_port}",
            "STOCKMIND_DLQ_URL": self.dlq_url,
            "STOCKMIND_MODEL": SMALL_CLIP,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # pyarrow's S3 filesystem (Ray Data) reads the service-specific variable.
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            **LOCAL_CREDENTIALS,
            **RAY_ENV,
        }
        if self.ray:
            env["STOCKMIND_RAY_ADDRESS"] = self.ray.address
            env["STOCKMIND_RAY_DASHBOARD_URL"] = self.ray.dashboard_url
        return env

    def _save(self) -> None:
        state = {
            "postgres": {"data_dir": str(self.postgres.data_dir), "port": self.postgres.port},
            "moto": asdict(self.moto),
            "ray": asdict(self.ray) if self.ray else None,
            "queue_url": self.queue_url,
            "dlq_url": self.dlq_url,
            "service_port": self.service_port,
        }
        (self.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.env.items()]
        self.env_file.write_text("# written by `stockmind local up`; use: source " + str(self.env_file) + "\n"
                                 + "\n".join(lines) + "\n")


def _ensure_postgres(state_dir: Path, previous: EmbeddedPostgres | None) -> EmbeddedPostgres:
    if previous and previous.is_running():
        return previous
    data_dir = state_dir / "pgdata"
    port = previous.port if previous and not port_is_open(previous.port) else free_port()
    postgres = EmbeddedPostgres(data_dir, port)
    postgres.start()
    return postgres


def _ensure_moto(state_dir: Path, previous: MotoServer | None) -> MotoServer:
    if previous and previous.is_running() and port_is_open(previous.port):
        return previous
    if previous:
        previous.stop()
    return MotoServer.start(free_port(), state_dir / "moto.log")


def _ensure_ray(state_dir: Path, previous: RayHead | None, num_cpus: int) -> RayHead:
    if previous and previous.is_running() and port_is_open(previous.gcs_port):
        return previous
    if previous:
        previous.stop()
    return RayHead.start(num_cpus, state_dir / "ray.log")


def _aws_clients(endpoint_url: str):
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )
    return session.client("s3", endpoint_url=endpoint_url), session.client("sqs", endpoint_url=endpoint_url)


def _migrate(database_url: str) -> None:
    from stockmind.store import migrate  # the store room owns the schema

    migrate(database_url)


@contextmanager
def _locked(state_dir: Path):
    """One `up`/`down` at a time per state folder (two test runs, or a test run and the demo)."""
    with open(state_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
