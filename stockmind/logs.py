"""Logging for one process: records go to stderr, and to CloudWatch Logs when the environment says so.

    STOCKMIND_CLOUDWATCH_LOGS=1                 ship records (default: off, as on the local stack)
    STOCKMIND_WORKER_LOG_GROUP=...              the jobs' group (default: topology.WORKER_LOG_GROUP)
    STOCKMIND_APPLICATION_LOG_GROUP=...         the search service's group (default: topology.APPLICATION_LOG_GROUP)

The variables are read here, not in `Settings`: logging is set up before settings are read (so a
configuration error is logged too), and in processes that never build `Settings`. They travel to Ray
workers with `ray_env.FORWARDED_ENV`.

Each process writes its own stream, `<process>/<hostname>/<pid>`, as JSON (CloudWatch Logs Insights
reads the fields). watchtower queues records and sends them from a thread every few seconds, so a
log call never waits on the network; records still queued are sent by `flush_logs()` and, at exit,
by `logging.shutdown`. When CloudWatch cannot be reached the records stay on stderr, and stderr says
so once per outage.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import boto3
import watchtower
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from stockmind import topology
from stockmind.errors import ConfigError

log = logging.getLogger(__name__)

ENABLE_ENV = "STOCKMIND_CLOUDWATCH_LOGS"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Whose INFO records people read: ours (the package's, and the job scripts' own loggers).
OWN_LOGGERS = ("stockmind", "stream", "backfill")
# Libraries that set their own logger's level: `verbose` opens them too (the rest follow the root).
VERBOSE_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore", "transformers", "ray")
# Never shipped: the AWS SDK logs every PutLogEvents it makes, which would feed itself (watchtower's
# warning), and this module's own "cannot reach CloudWatch" records.
NOT_SHIPPED = ("botocore", "boto3", "urllib3", "s3transfer", __name__)
SEND_INTERVAL_S = 5  # also the most a killed process can lose from CloudWatch (stderr has it all)
FLUSH_TIMEOUT_S = 10  # `ray job stop` kills the driver a few seconds after its SIGTERM
# Fail fast in the sender thread: records wait in its queue, not in a hanging connection.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
_ON = ("1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off")
_PROCESS_NAME = re.compile(r"[A-Za-z0-9._-]+")


class Destination(StrEnum):
    WORKER = "worker"  # the streaming job, the backfill and their Ray workers
    APPLICATION = "application"  # the search service (uvicorn or Serve replicas)


GROUP_ENV = {Destination.WORKER: "STOCKMIND_WORKER_LOG_GROUP",
             Destination.APPLICATION: "STOCKMIND_APPLICATION_LOG_GROUP"}
DEFAULT_GROUP = {Destination.WORKER: topology.WORKER_LOG_GROUP,
                 Destination.APPLICATION: topology.APPLICATION_LOG_GROUP}
# Loggers of the service's servers that do not propagate to the root logger (uvicorn's dictConfig,
# Serve's replica logger): the request lines are theirs.
SERVICE_LOGGERS = ("uvicorn", "uvicorn.access", "ray.serve")


@dataclass(frozen=True)
class CloudWatchTarget:
    group: str
    stream: str  # a watchtower template: {machine_name} and {process_id} are filled in when sending


def cloudwatch_target(process: str, destination: Destination,
                      environ: Mapping[str, str] | None = None) -> CloudWatchTarget | None:
    """Where this process's records go in CloudWatch, or None when shipping is off."""
    environ = os.environ if environ is None else environ
    if not _PROCESS_NAME.fullmatch(process):
        raise ValueError(f"expected a process name of letters, digits, '.', '_' or '-', got {process!r}")
    raw = environ.get(ENABLE_ENV, "").strip().lower()
    if raw in _OFF:
        return None
    if raw not in _ON:
        raise ConfigError(f"{ENABLE_ENV}={environ[ENABLE_ENV]!r} is invalid: expected 1 or 0")
    group = environ.get(GROUP_ENV[destination], "").strip() or DEFAULT_GROUP[destination]
    return CloudWatchTarget(group, f"{process}/{{machine_name}}/{{process_id}}")


def configure_logging(process: str, destination: Destination = Destination.WORKER, *, verbose: bool | None = None,
                      also: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> CloudWatchTarget | None:
    """Set up this process's logging; safe to call again (the CLI may have configured it already).

    The root logger gets a stderr handler if it has none. Levels: an entry point (the CLI, a job
    script) passes `verbose` and `set_levels` applies; library code (`run_backfill`, a Ray actor)
    leaves it None and keeps what the entry point chose, or the quiet default in a process nobody
    configured. With shipping on, the CloudWatch handler goes on the root logger and on `also`
    (loggers that do not propagate). Returns where records are shipped, or None.
    """
    target = cloudwatch_target(process, destination, environ)
    root = logging.getLogger()
    unconfigured = not [h for h in root.handlers if not isinstance(h, watchtower.CloudWatchLogHandler)]
    if unconfigured:
        root.addHandler(_stderr_handler())
    if verbose is not None or unconfigured:
        set_levels(bool(verbose))
    installed = _installed_handler()
    if installed is not None and target is not None and _target_of(installed) == target:
        _attach(installed, also)
        return target
    _detach_cloudwatch()
    if target is None:
        return None
    handler = _cloudwatch_handler(target, environ)
    if handler is None:
        return None
    _attach(handler, ("", *also))
    return target


def set_levels(verbose: bool) -> None:
    """Output is for people: our own records from INFO, the libraries' only when they warn (botocore
    alone says "Found endpoint for s3 via: environment_service" for every client); with `verbose`,
    everything from DEBUG."""
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.INFO)
    if verbose:
        for name in VERBOSE_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)


def configure_worker_logging(process: str, destination: Destination = Destination.WORKER,
                             also: Iterable[str] = ()) -> None:
    """`configure_logging` from a Ray actor's `__init__`; does nothing when the class runs in the
    driver itself (tests, benchmarks), whose logging is its own."""
    import ray

    if ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None:
        configure_logging(process, destination, also=also)


def configure_backfill_worker() -> None:
    """Ray's `worker_process_setup_hook` for the backfill's tasks and actor pools (jobs/backfill.py)."""
    configure_logging("backfill-worker", Destination.WORKER)


def flush_logs() -> None:
    """Send what the CloudWatch handler holds now (a drained stream, a finished job)."""
    handler = _installed_handler()
    if handler is not None:
        handler.flush()


# --- handlers --------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    return handler


def _cloudwatch_handler(target: CloudWatchTarget, environ: Mapping[str, str] | None) -> logging.Handler | None:
    environ = os.environ if environ is None else environ
    try:
        client = boto3.session.Session().client("logs", region_name=environ.get("AWS_REGION") or None,
                                                config=CLIENT_CONFIG)
    except BotoCoreError as error:  # e.g. no region anywhere: log locally, never stop the process
        log.warning("not shipping logs to CloudWatch group %s: %s", target.group, error)
        return None
    _DeliveryMonitor(target.group).watch(client)
    # The groups are Terraform's (and the local topology's): no CreateLogGroup at start-up.
    handler = watchtower.CloudWatchLogHandler(
        log_group_name=target.group, log_stream_name=target.stream, boto3_client=client,
        create_log_group=False, send_interval=SEND_INTERVAL_S)
    handler.FLUSH_TIMEOUT = FLUSH_TIMEOUT_S
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_shippable)
    return handler


def _shippable(record: logging.LogRecord) -> bool:
    return not any(record.name == name or record.name.startswith(name + ".") for name in NOT_SHIPPED)


# watchtower warns on every failed attempt (five per batch); _DeliveryMonitor says it once instead.
warnings.filterwarnings("ignore", message="Failed to (deliver logs|create log stream)",
                        category=watchtower.WatchtowerWarning)


class _DeliveryMonitor:
    """Logs (to stderr only) the first failed CloudWatch call of an outage; a success ends the outage."""

    # A new stream's first PutLogEvents fails this way, then watchtower creates the stream.
    EXPECTED = frozenset({("PutLogEvents", "ResourceNotFoundException"),
                          ("CreateLogStream", "ResourceAlreadyExistsException")})

    def __init__(self, group: str):
        self._group = group
        self._failing = False

    def watch(self, client) -> None:
        client.meta.events.register("after-call.cloudwatch-logs", self._after_call)
        client.meta.events.register("after-call-error.cloudwatch-logs", self._after_call_error)

    def _after_call(self, http_response, parsed, model, **_) -> None:
        if http_response.status_code < 300:
            self._failing = False
            return
        code = parsed.get("Error", {}).get("Code", str(http_response.status_code))
        if (model.name, code) not in self.EXPECTED:
            self._failed(f"{model.name}: {code}: {parsed.get('Error', {}).get('Message', '')}")

    def _after_call_error(self, exception, event_name, **_) -> None:
        self._failed(f"{event_name.rsplit('.', 1)[-1]}: {type(exception).__name__}: {exception}")

    def _failed(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            log.warning("cannot ship log records to CloudWatch group %s (%s); they are on stderr only until it "
                        "answers", self._group, reason)


def _installed_handler() -> watchtower.CloudWatchLogHandler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h, watchtower.CloudWatchLogHandler)), None)


def _target_of(handler: watchtower.CloudWatchLogHandler) -> CloudWatchTarget:
    return CloudWatchTarget(handler.log_group_name, handler.log_stream_name)


def _attach(handler: logging.Handler, names: Iterable[str]) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if handler not in logger.handlers:
            logger.addHandler(handler)


def _detach_cloudwatch() -> None:
    handler = _installed_handler()
    if handler is None:
        return
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger) and handler in logger.handlers:
            logger.removeHandler(handler)
    handler.close()
