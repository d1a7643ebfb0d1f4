"""terraform/variables.tf defaults and stockmind/topology.py (the local stack) describe one topology."""

import pytest

from stockmind import topology
from tests.unit.terraform_iac import terraform_module


@pytest.fixture(scope="module")
def tf():
    return terraform_module()


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("queue_name", topology.QUEUE_NAME),
        ("dlq_name", topology.DLQ_NAME),
        ("max_receive_count", topology.MAX_RECEIVE_COUNT),
        ("visibility_timeout_seconds", topology.VISIBILITY_TIMEOUT_SECONDS),
        ("receive_wait_time_seconds", topology.RECEIVE_WAIT_SECONDS),
        ("message_retention_seconds", topology.QUEUE_RETENTION_SECONDS),
        ("dlq_message_retention_seconds", topology.DLQ_RETENTION_SECONDS),
        ("queue_depth_alarm_threshold", topology.QUEUE_DEPTH_ALARM_THRESHOLD),
        ("worker_log_group_name", topology.WORKER_LOG_GROUP),
        ("application_log_group_name", topology.APPLICATION_LOG_GROUP),
        ("media_prefix", topology.MEDIA_PREFIX),
        ("notification_events", list(topology.NOTIFICATION_EVENTS)),
    ],
)
def test_variable_default_matches_the_local_topology(tf, variable, expected):
    assert tf.default(variable) == expected


def test_notification_suffixes_match_the_local_topology(tf):
    assert sorted(tf.default("media_suffixes")) == sorted(topology.notification_suffixes())


def test_redrive_policy_has_the_keys_the_local_stack_uses(tf):
    redrive = tf.resource("aws_sqs_queue", "this")["redrive_policy"][0]
    for key in topology.redrive_policy("arn:dlq"):
        assert f"'{key}':" in redrive
