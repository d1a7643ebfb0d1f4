"""The opt-in EventBridge fan-out (event_delivery = "eventbridge"), asserted on the parsed terraform/."""

import pytest

from tests.unit.terraform_iac import attr, terraform_module


@pytest.fixture(scope="module")
def tf():
    return terraform_module()


def test_event_delivery_defaults_to_direct_s3_notifications_and_accepts_only_the_two_paths(tf):
    variable = tf.variables["event_delivery"]
    assert (attr(variable, "type"), tf.default("event_delivery")) == ("${string}", "s3")
    (validation,) = variable["validation"]
    assert attr(validation, "condition") == "${contains(['s3', 'eventbridge'],var.event_delivery)}"
    (locals_,) = [block for _, block in tf.blocks("locals") if "eventbridge" in block]
    assert attr(locals_, "eventbridge") == '${var.event_delivery == "eventbridge"}'


def test_eventbridge_delivery_turns_the_queue_notifications_off_so_s3_does_not_send_twice(tf):
    notification = tf.resource("aws_s3_bucket_notification", "this")
    assert attr(notification, "eventbridge") == "${local.eventbridge}"
    (queues,) = [block["queue"] for block in notification["dynamic"] if "queue" in block]
    assert attr(queues, "for_each") == "${local.eventbridge ? [] : var.media_suffixes}"


def test_the_rule_exists_only_for_eventbridge_delivery_and_matches_media_creations_and_deletions(tf):
    rule = tf.resource("aws_cloudwatch_event_rule", "media")
    assert attr(rule, "count") == "${local.eventbridge ? 1 : 0}"
    pattern = attr(rule, "event_pattern")
    assert "'source': ['aws.s3']" in pattern
    assert "'detail-type': ['Object Created', 'Object Deleted']" in pattern
    assert "'bucket': {'name': ['${aws_s3_bucket.this.id}']}" in pattern
    # prefix and suffix in one wildcard per suffix: both must match (separate filters would OR)
    assert "for suffix in var.media_suffixes : {'wildcard': '${var.media_prefix}*${suffix}'}" in pattern


def test_the_rule_targets_the_media_queue(tf):
    target = tf.resource("aws_cloudwatch_event_target", "media_queue")
    assert attr(target, "count") == "${local.eventbridge ? 1 : 0}"
    assert attr(target, "rule") == "${aws_cloudwatch_event_rule.media[0].name}"
    assert attr(target, "arn") == "${aws_sqs_queue.this.arn}"


def test_the_queue_policy_lets_only_the_media_rule_send_through_eventbridge(tf):
    document = tf.resource("aws_iam_policy_document", "queue", kind="data")
    (dynamic,) = [block["statement"] for block in document["dynamic"] if "statement" in block]
    assert attr(dynamic, "for_each") == "${aws_cloudwatch_event_rule.media}"
    (statement,) = dynamic["content"]
    assert (attr(statement, "sid"), attr(statement, "effect")) == ("AllowMediaEventRule", "Allow")
    assert attr(statement, "actions") == ["sqs:SendMessage"]
    assert attr(statement, "resources") == ["${aws_sqs_queue.this.arn}"]
    (principal,) = statement["principals"]
    assert (attr(principal, "type"), attr(principal, "identifiers")) == ("Service", ["events.amazonaws.com"])
    (condition,) = statement["condition"]
    assert (attr(condition, "test"), attr(condition, "variable")) == ("ArnEquals", "aws:SourceArn")
    assert attr(condition, "values") == ["${statement.value.arn}"]
    # the direct S3 statement is still there, unchanged
    sids = [attr(s, "sid") for s in document["statement"]]
    assert sids == ["AllowMediaBucketEvents"]
