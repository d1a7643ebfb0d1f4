"""stockmind/logs.py: where records go, which handlers a process gets, and what CloudWatch receives."""

import json
import logging
import sys
from contextlib import contextmanager

import pytest
import watchtower

from stockmind import topology
from stockmind.errors import ConfigError
from stockmind.local.ports import free_port
from stockmind.logs import (
    OWN_LOGGERS,
    SERVICE_LOGGERS,
    VERBOSE_LIBRARIES,
    CloudWatchTarget,
    Destination,
    JsonFormatter,
    cloudwatch_target,
    configure_logging,
    flush_logs,
)

ON = {"STOCKMIND_CLOUDWATCH_LOGS": "1", "AWS_REGION": "us-east-1"}


@pytest.fixture(autouse=True)
def restore_logging():
    """Put back the levels configure_logging sets and drop the CloudWatch handlers it adds."""
    levels = {name: logging.getLogger(name).level for name in ("", *OWN_LOGGERS, *VERBOSE_LIBRARIES)}
    yield
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in SERVICE_LOGGERS)]:
        for handler in cloudwatch_handlers(logger):
            logger.removeHandler(handler)
            handler.close()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@contextmanager
def bare_root():
    """The root logger as a process that nothing configured has it (pytest's own handlers set aside)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers = saved


def cloudwatch_handlers(logger: logging.Logger) -> list[watchtower.CloudWatchLogHandler]:
    return [h for h in logger.handlers if isinstance(h, watchtower.CloudWatchLogHandler)]


def record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), None)


def test_shipping_is_off_unless_the_environment_turns_it_on():
    assert cloudwatch_target("stream", Destination.WORKER, {}) is None
    assert cloudwatch_target("stream", Destination.WORKER, {"STOCKMIND_CLOUDWATCH_LOGS": "0"}) is None


def test_each_destination_ships_to_its_topology_group_in_a_stream_per_process():
    assert cloudwatch_target("stream", Destination.WORKER, ON) == CloudWatchTarget(
        topology.WORKER_LOG_GROUP, "stream/{machine_name}/{process_id}")
    assert cloudwatch_target("search", Destination.APPLICATION, ON).group == topology.APPLICATION_LOG_GROUP


def test_a_group_variable_overrides_the_topology_default():
    env = {**ON, "STOCKMIND_APPLICATION_LOG_GROUP": "/custom/app"}
    assert cloudwatch_target("search", Destination.APPLICATION, env).group == "/custom/app"
    assert cloudwatch_target("stream", Destination.WORKER, env).group == topology.WORKER_LOG_GROUP


def test_a_malformed_switch_is_a_configuration_error_naming_the_variable():
    with pytest.raises(ConfigError, match="STOCKMIND_CLOUDWATCH_LOGS='ture'"):
        cloudwatch_target("stream", Destination.WORKER, {"STOCKMIND_CLOUDWATCH_LOGS": "ture"})


def test_a_process_name_cannot_break_the_stream_template():
    with pytest.raises(ValueError, match="process name"):
        cloudwatch_target("stream/{x}", Destination.WORKER, ON)


def test_an_unconfigured_process_gets_stderr_with_our_info_and_the_libraries_warnings():
    with bare_root() as root:
        assert configure_logging("stream", environ={}) is None
        [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    assert logging.getLogger("stockmind.stream.job").isEnabledFor(logging.INFO)
    assert not logging.getLogger("botocore.endpoint").isEnabledFor(logging.INFO)
    assert logging.getLogger("botocore.endpoint").isEnabledFor(logging.WARNING)


def test_a_process_configured_before_keeps_its_handlers_and_level():
    with bare_root() as root:
        logging.basicConfig(level=logging.DEBUG)  # what the CLI does with --verbose
        [theirs] = root.handlers
        configure_logging("stream", environ={})
        assert root.handlers == [theirs] and root.level == logging.DEBUG


def test_shipping_adds_one_cloudwatch_handler_to_root_and_to_the_servers_loggers():
    with bare_root() as root:
        target = configure_logging("search", Destination.APPLICATION, also=SERVICE_LOGGERS, environ=ON)
        configure_logging("search", Destination.APPLICATION, also=SERVICE_LOGGERS, environ=ON)  # no second one
        [handler] = cloudwatch_handlers(root)
        others = [h for h in root.handlers if h is not handler]
    assert (handler.log_group_name, handler.log_stream_name) == (target.group, target.stream)
    assert handler.log_group_name == topology.APPLICATION_LOG_GROUP
    assert all(cloudwatch_handlers(logging.getLogger(name)) == [handler] for name in SERVICE_LOGGERS)
    assert len(others) == 1  # stderr, once


def test_turning_shipping_off_removes_the_handler():
    configure_logging("stream", environ=ON)
    configure_logging("stream", environ={})
    assert cloudwatch_handlers(logging.getLogger()) == []


def test_the_sdks_own_records_are_never_shipped():
    configure_logging("stream", environ=ON)
    [handler] = cloudwatch_handlers(logging.getLogger())
    assert not handler.filter(record("botocore.endpoint", "Sending http request"))
    assert not handler.filter(record("urllib3.connectionpool", "Starting new HTTP connection"))
    assert not handler.filter(record("stockmind.logs", "cannot ship log records"))
    assert handler.filter(record("stockmind.stream.job", "stream finished"))


def test_records_are_shipped_as_json_with_logger_and_level():
    line = JsonFormatter().format(record("stockmind.stream.job", "stream finished", logging.WARNING))
    entry = json.loads(line)
    assert (entry["logger"], entry["level"], entry["message"]) == ("stockmind.stream.job", "WARNING",
                                                                  "stream finished")
    assert entry["time"].endswith("+00:00")


def test_an_unreachable_endpoint_is_reported_once_and_does_not_raise(monkeypatch, caplog):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    caplog.set_level(logging.INFO)
    configure_logging("stream", environ=ON)
    app = logging.getLogger("stockmind.test")
    for n in range(3):
        app.info("record %d", n)
    flush_logs()
    reports = [r for r in caplog.records if r.name == "stockmind.logs"]
    assert len(reports) == 1 and "cannot ship log records" in reports[0].getMessage()
    assert "EndpointConnectionError" in reports[0].getMessage()
