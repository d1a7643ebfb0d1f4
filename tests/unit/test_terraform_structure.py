"""The seed's requirements, asserted on the parsed terraform/ configuration."""

import re

import pytest

from tests.unit.terraform_iac import TERRAFORM_DIR, attr, terraform_module

IMAGE_AND_VIDEO_SUFFIXES = [".jpg", ".jpeg", ".png", ".webp", ".mp4", ".webm"]


@pytest.fixture(scope="module")
def tf():
    return terraform_module()


def statements(tf, document: str) -> dict[str, dict]:
    body = tf.resource("aws_iam_policy_document", document, kind="data")
    return {attr(s, "sid"): s for s in body["statement"]}


# --- S3 -------------------------------------------------------------------------------------------


def test_bucket_is_versioned_encrypted_private_and_owner_enforced(tf):
    versioning = tf.resource("aws_s3_bucket_versioning", "this")
    assert versioning["versioning_configuration"][0]["status"] == ["Enabled"]
    encryption = tf.resource("aws_s3_bucket_server_side_encryption_configuration", "this")
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert attr(default, "sse_algorithm") in {"AES256", "aws:kms"}
    public = tf.resource("aws_s3_bucket_public_access_block", "this")
    flags = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
    assert all(attr(public, flag) is True for flag in flags)
    ownership = tf.resource("aws_s3_bucket_ownership_controls", "this")
    assert ownership["rule"][0]["object_ownership"] == ["BucketOwnerEnforced"]


def test_cors_allows_browser_uploads(tf):
    rule = tf.resource("aws_s3_bucket_cors_configuration", "this")["cors_rule"][0]
    assert {"PUT", "POST", "GET"} <= set(attr(rule, "allowed_methods"))
    assert "ETag" in attr(rule, "expose_headers")


def test_lifecycle_expires_noncurrent_versions_and_offers_intelligent_tiering(tf):
    rules = {attr(r, "id"): r for r in tf.resource("aws_s3_bucket_lifecycle_configuration", "this")["rule"]}
    expiry = rules["expire-noncurrent-versions"]["noncurrent_version_expiration"][0]
    assert tf.resolve(attr(expiry, "noncurrent_days")) == 90
    tiering = rules["intelligent-tiering"]
    assert "var.enable_intelligent_tiering" in attr(tiering, "status")
    assert tf.default("enable_intelligent_tiering") is False
    assert tiering["transition"][0]["storage_class"] == ["INTELLIGENT_TIERING"]


def test_notifications_cover_every_media_suffix_in_both_cases_for_creates_and_removes(tf):
    notification = tf.resource("aws_s3_bucket_notification", "this")
    queue = notification["dynamic"][0]["queue"]
    content = queue["content"][0]
    suffixes = tf.resolve(attr(queue, "for_each"))
    assert attr(content, "filter_suffix") == "${queue.value}"
    assert sorted(suffixes) == sorted(IMAGE_AND_VIDEO_SUFFIXES + [s.upper() for s in IMAGE_AND_VIDEO_SUFFIXES])
    assert tf.resolve(attr(content, "filter_prefix")) == "clients/"
    assert tf.resolve(attr(content, "events")) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert attr(content, "queue_arn") == "${aws_sqs_queue.this.arn}"
    assert attr(notification, "depends_on") == ["${aws_sqs_queue_policy.this}"]


# --- SQS ------------------------------------------------------------------------------------------


def test_queue_is_encrypted_long_polls_and_fits_video_work(tf):
    queue = tf.resource("aws_sqs_queue", "this")
    assert attr(queue, "sqs_managed_sse_enabled") is True
    assert tf.resolve(attr(queue, "receive_wait_time_seconds")) == 20
    assert tf.resolve(attr(queue, "visibility_timeout_seconds")) == 300
    assert attr(tf.resource("aws_sqs_queue", "dlq"), "sqs_managed_sse_enabled") is True


def test_queue_redrives_to_the_dlq_after_max_receive_count(tf):
    redrive = attr(tf.resource("aws_sqs_queue", "this"), "redrive_policy")
    assert redrive.startswith("${jsonencode(")
    assert "'deadLetterTargetArn': '${aws_sqs_queue.dlq.arn}'" in redrive
    assert "'maxReceiveCount': '${var.max_receive_count}'" in redrive
    assert tf.default("max_receive_count") == 5
    allow = attr(tf.resource("aws_sqs_queue_redrive_allow_policy", "dlq"), "redrive_allow_policy")
    assert "'sourceQueueArns': ['${aws_sqs_queue.this.arn}']" in allow


def test_only_this_bucket_in_this_account_may_send_to_the_queue(tf):
    (statement,) = statements(tf, "queue").values()
    assert attr(statement, "actions") == ["sqs:SendMessage"]
    assert attr(statement, "resources") == ["${aws_sqs_queue.this.arn}"]
    assert statement["principals"][0]["identifiers"] == [["s3.amazonaws.com"]]
    conditions = {attr(c, "variable"): attr(c, "values") for c in statement["condition"]}
    assert conditions == {
        "aws:SourceArn": ["${aws_s3_bucket.this.arn}"],
        "aws:SourceAccount": ["${local.account_id}"],
    }


# --- IAM ------------------------------------------------------------------------------------------


def test_worker_policy_grants_exactly_the_seeds_actions_on_exactly_its_resources(tf):
    granted = {
        (action, resource)
        for statement in statements(tf, "worker").values()
        for action in attr(statement, "actions")
        for resource in attr(statement, "resources")
    }
    objects, bucket = "${aws_s3_bucket.this.arn}/*", "${aws_s3_bucket.this.arn}"
    queue, dlq = "${aws_sqs_queue.this.arn}", "${aws_sqs_queue.dlq.arn}"
    logs = ["${aws_cloudwatch_log_group.worker.arn}:*", "${aws_cloudwatch_log_group.application.arn}:*"]
    assert granted == (
        {(a, objects) for a in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]}
        | {("s3:ListBucket", bucket)}
        | {(a, queue) for a in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                "sqs:ChangeMessageVisibility"]}
        | {("sqs:SendMessage", dlq)}
        | {(a, log) for a in ["logs:CreateLogStream", "logs:PutLogEvents"] for log in logs}
    )
    assert all(attr(s, "effect") == "Allow" for s in statements(tf, "worker").values())


def test_bucket_listing_is_limited_to_the_media_prefix(tf):
    (condition,) = statements(tf, "worker")["ListMediaForBackfill"]["condition"]
    assert attr(condition, "variable") == "s3:prefix"
    assert attr(condition, "values") == ["${var.media_prefix}", "${var.media_prefix}*"]


def test_workers_assume_the_role_through_ec2_and_an_instance_profile(tf):
    (statement,) = tf.resource("aws_iam_policy_document", "worker_assume", kind="data")["statement"]
    assert statement["principals"][0]["identifiers"] == [["ec2.amazonaws.com"]]
    assert attr(tf.resource("aws_iam_instance_profile", "this"), "role") == "${aws_iam_role.this.name}"
    assert attr(tf.resource("aws_iam_role_policy", "this"), "policy") == "${data.aws_iam_policy_document.worker.json}"


# --- CloudWatch and SNS ---------------------------------------------------------------------------


def test_log_groups_have_the_seeds_names_retention_and_encryption(tf):
    names = {}
    for role in ["worker", "application"]:
        group = tf.resource("aws_cloudwatch_log_group", role)
        names[role] = tf.resolve(attr(group, "name"))
        assert tf.resolve(attr(group, "retention_in_days")) >= 1
        assert attr(group, "kms_key_id") == "${aws_kms_key.this.arn}"
    assert names == {"worker": "/aws/ec2/stock-mind/media-worker", "application": "/aws/ec2/stock-mind/application"}


@pytest.mark.parametrize(
    ("alarm", "queue", "threshold"),
    [("queue_depth", "${aws_sqs_queue.this.name}", 1000), ("dlq_messages", "${aws_sqs_queue.dlq.name}", 0)],
)
def test_alarms_watch_the_visible_messages_and_notify_the_topic(tf, alarm, queue, threshold):
    body = tf.resource("aws_cloudwatch_metric_alarm", alarm)
    assert attr(body, "namespace") == "AWS/SQS"
    assert attr(body, "metric_name") == "ApproximateNumberOfMessagesVisible"
    assert attr(body, "dimensions") == {"QueueName": queue}
    assert attr(body, "comparison_operator") == "GreaterThanThreshold"
    assert tf.resolve(attr(body, "threshold")) == threshold
    assert attr(body, "alarm_actions") == ["${aws_sns_topic.this.arn}"]


def test_alert_topic_is_encrypted_and_email_subscription_is_optional(tf):
    assert attr(tf.resource("aws_sns_topic", "this"), "kms_master_key_id") == "${aws_kms_key.this.arn}"
    assert attr(tf.resource("aws_kms_key", "this"), "enable_key_rotation") is True
    subscription = tf.resource("aws_sns_topic_subscription", "email")
    assert attr(subscription, "count") == '${var.alarm_email == "" ? 0 : 1}'
    assert tf.default("alarm_email") == ""


# --- Network and scaling --------------------------------------------------------------------------


def test_security_group_allows_only_the_three_outbound_ports_each_described(tf):
    group = tf.resource("aws_security_group", "this")
    assert "ingress" not in group
    egress = {attr(rule, "from_port"): rule for rule in group["egress"]}
    assert set(egress) == {443, 8000, 5432}
    for port, rule in egress.items():
        assert attr(rule, "to_port") == port
        assert attr(rule, "protocol") == "tcp"
        assert len(attr(rule, "description")) > 10


def test_autoscaling_is_optional_and_off_by_default(tf):
    assert tf.default("enable_autoscaling") is False
    for kind in ["aws_launch_template", "aws_autoscaling_group"]:
        assert attr(tf.resource(kind, "this"), "count") == "${local.autoscaling_count}"
    assert attr(tf.resource("aws_autoscaling_policy", "backlog"), "count") == "${local.autoscaling_count}"
    template = tf.resource("aws_launch_template", "this")
    assert template["metadata_options"][0]["http_tokens"] == ["required"]
    assert template["iam_instance_profile"][0]["arn"] == ["${aws_iam_instance_profile.this.arn}"]


def test_ray_nodes_launch_from_the_current_dlami_with_imdsv2_and_encrypted_disks(tf):
    template = tf.resource("aws_launch_template", "ray_node")
    assert attr(template, "image_id") == "${data.aws_ssm_parameter.ray_node_ami.insecure_value}"
    assert "/aws/service/deeplearning/ami/" in tf.default("ray_node_ami_ssm_parameter")
    assert template["metadata_options"][0]["http_tokens"] == ["required"]
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] == [True]


def test_ray_head_may_pass_only_the_worker_role_and_only_to_ec2(tf):
    (statement,) = statements(tf, "pass_worker_role").values()
    assert attr(statement, "actions") == ["iam:PassRole"]
    assert attr(statement, "resources") == ["${aws_iam_role.this.arn}"]
    (condition,) = statement["condition"]
    assert attr(condition, "values") == ["ec2.amazonaws.com"]


# --- Variables and outputs ------------------------------------------------------------------------


def test_every_variable_has_a_description_and_a_type(tf):
    incomplete = [name for name, body in tf.variables.items() if not {"description", "type"} <= set(body)]
    assert incomplete == []


@pytest.mark.parametrize(
    "variable",
    [
        "s3_bucket_name", "aws_region", "visibility_timeout_seconds", "message_retention_seconds",
        "dlq_message_retention_seconds", "max_receive_count", "queue_depth_alarm_threshold", "dlq_alarm_threshold",
        "receive_wait_time_seconds", "media_suffixes",
    ],
)
def test_aws_limits_are_validated(tf, variable):
    assert tf.variables[variable].get("validation"), f"{variable} has no validation block"


@pytest.mark.parametrize(
    ("variable", "low", "high"),
    [
        ("visibility_timeout_seconds", 0, 43200),
        ("message_retention_seconds", 60, 1209600),
        ("dlq_message_retention_seconds", 60, 1209600),
        ("max_receive_count", 1, 1000),
    ],
)
def test_range_validations_use_the_aws_limits(tf, variable, low, high):
    condition = attr(tf.variables[variable]["validation"][0], "condition")
    assert f"var.{variable} >= {low}" in condition
    assert f"var.{variable} <= {high}" in condition


def test_outputs_give_what_workers_and_the_cluster_need(tf):
    outputs = {name for _, block in tf.blocks("output") for name in block}
    assert {
        "queue_url", "queue_arn", "dlq_url", "dlq_arn", "bucket_name", "bucket_arn", "worker_role_name",
        "worker_role_arn", "worker_instance_profile_name", "worker_instance_profile_arn", "sns_topic_arn",
        "worker_log_group_name", "application_log_group_name", "security_group_id",
        "ray_node_launch_template_name", "pass_worker_role_policy_arn",
    } <= outputs


# Terraform's loader does not catch references to undeclared names without the provider installed.
def test_every_reference_names_something_declared(tf):
    source = "\n".join(p.read_text() for p in TERRAFORM_DIR.glob("*.tf"))
    declared_locals = {name for _, block in tf.blocks("locals") for name in block if not name.startswith("__")}
    resources = {f"{t}.{n}" for t, n in tf.resources()}
    data = {f"{t}.{n}" for t, n in tf.resources("data")}
    assert set(re.findall(r"\bvar\.(\w+)", source)) <= set(tf.variables)
    assert set(re.findall(r"\blocal\.(\w+)", source)) <= declared_locals
    assert set(re.findall(r"\bdata\.(aws_\w+\.\w+)", source)) <= data
    assert set(re.findall(r"(?<![.\w])(aws_\w+\.\w+)\.\w+", source)) - data <= resources
