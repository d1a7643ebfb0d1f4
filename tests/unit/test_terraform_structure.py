"""The seed's requirements, asserted on the parsed terraform/ configuration."""

import ast
import re

import pytest
import yaml

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
    # No queue notifications with event_delivery = "eventbridge" (test_terraform_eventbridge.py).
    assert attr(queue, "for_each") == "${local.eventbridge ? [] : var.media_suffixes}"
    suffixes = tf.default("media_suffixes")
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


# What the policies grant is asserted on the rendered templates (test_terraform_policies.py); here,
# that iam.tf renders them with the right resources and attaches them to the right roles.


def test_iam_tf_renders_each_policy_template_with_its_resources(tf):
    assert policy_template_arguments(tf, "worker_policy") == ("worker", {
        "bucket_arn": "${aws_s3_bucket.this.arn}",
        "media_prefix": "${var.media_prefix}",
        "queue_arn": "${aws_sqs_queue.this.arn}",
        "dlq_arn": "${aws_sqs_queue.dlq.arn}",
        "log_group_arns": ["${aws_cloudwatch_log_group.worker.arn}", "${aws_cloudwatch_log_group.application.arn}"],
        "database_secret_arn": "${var.database_secret_arn}",
    })
    assert policy_template_arguments(tf, "head_policy") == ("head", {
        "partition": "${local.partition}",
        "region": "${var.aws_region}",
        "ec2_arn": "arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}",
        "launch_template_arn": "${aws_launch_template.ray_node.arn}",
        "cluster_name": "${var.ray_cluster_name}",
        "worker_role_arn": "${aws_iam_role.this.arn}",
    })


def test_workers_get_the_worker_policy_and_the_head_gets_it_plus_the_launch_policy(tf):
    policies = {name: (attr(body, "role"), attr(body, "policy"))
                for (type_, name), body in tf.resources().items() if type_ == "aws_iam_role_policy"}
    assert policies == {
        "this": ("${aws_iam_role.this.id}", "${local.worker_policy}"),
        "head_media": ("${aws_iam_role.head.id}", "${local.worker_policy}"),
        "head": ("${aws_iam_role.head.id}", "${local.head_policy}"),
    }
    # Nothing left for an operator to attach by hand: `terraform destroy` removes every grant.
    assert not [key for key in tf.resources() if key[0] in {"aws_iam_policy", "aws_iam_role_policy_attachment"}]


def test_workers_and_head_assume_their_roles_through_ec2_and_instance_profiles(tf):
    (statement,) = tf.resource("aws_iam_policy_document", "ec2_assume", kind="data")["statement"]
    assert statement["principals"][0]["identifiers"] == [["ec2.amazonaws.com"]]
    for role in ["this", "head"]:
        assert attr(tf.resource("aws_iam_role", role), "assume_role_policy") == \
            "${data.aws_iam_policy_document.ec2_assume.json}"
        assert attr(tf.resource("aws_iam_instance_profile", role), "role") == f"${{aws_iam_role.{role}.name}}"


def test_the_head_may_only_touch_instances_of_the_cluster_named_in_cluster_yaml(tf):
    cluster = yaml.safe_load((TERRAFORM_DIR.parent / "cluster.yaml").read_text())
    assert tf.default("ray_cluster_name") == cluster["cluster_name"]


_TEMPLATEFILE = re.compile(r'\$\{templatefile\("\$\{path\.module\}/policies/(\w+)\.json\.tftpl",(\{.*\})\)\}')


def policy_template_arguments(tf, local: str) -> tuple[str, dict]:
    """(template name, arguments) of a `templatefile("${path.module}/policies/...")` local."""
    (value,) = [block[local][0] for _, block in tf.blocks("locals") if local in block]
    match = _TEMPLATEFILE.fullmatch(value)
    assert match, f"local.{local} is not a templatefile() of policies/: {value}"
    return match.group(1), ast.literal_eval(match.group(2))


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


def rules(tf, direction: str) -> dict[str, dict]:
    """The Ray nodes' group's inline rules of one direction, by description."""
    group = tf.resource("aws_security_group", "this")
    inline = {attr(rule, "description"): rule for rule in group.get(direction, [])}
    dynamic = {
        attr(d[direction]["content"][0], "description"): d[direction]["content"][0]
        for d in group.get("dynamic", []) if direction in d
    }
    return inline | dynamic


def test_ssh_comes_only_from_the_operators_range_which_has_no_default_and_refuses_the_internet(tf):
    (ssh,) = [r for r in rules(tf, "ingress").values() if attr(r, "from_port") == 22 or attr(r, "to_port") == 22]
    assert attr(ssh, "cidr_blocks") == "${var.ssh_ingress_cidrs}"
    assert "default" not in tf.variables["ssh_ingress_cidrs"]
    conditions = " ".join(attr(v, "condition") for v in tf.variables["ssh_ingress_cidrs"]["validation"])
    assert 'cidrnetmask(c) != "0.0.0.0"' in conditions


def test_no_inbound_rule_is_open_to_the_internet(tf):
    for description, rule in rules(tf, "ingress").items():
        assert "0.0.0.0/0" not in str(rule.get("cidr_blocks")), description
        sources = {"cidr_blocks", "self", "security_groups"} & set(rule)
        assert sources, f"{description} names no source"


def test_ray_traffic_flows_only_between_members_of_the_group(tf):
    for direction in ["ingress", "egress"]:
        (ray,) = [r for r in rules(tf, direction).values() if r.get("self") == [True]]
        assert (attr(ray, "from_port"), attr(ray, "to_port")) == ("${local.ray_port_range.from}",
                                                                   "${local.ray_port_range.to}")
        assert "cidr_blocks" not in ray


def test_search_service_port_is_open_from_a_cidr_variable_and_an_optional_load_balancer_group(tf):
    service = [r for r in rules(tf, "ingress").values() if attr(r, "from_port") == "${local.service_port}"]
    sources = {str(r.get("cidr_blocks", r.get("security_groups"))) for r in service}
    assert sources == {"['${local.service_ingress_cidrs}']", "[['${ingress.value}']]"}
    assert tf.default("service_ingress_security_group_id") is None


def test_outbound_is_the_seeds_three_ports_plus_ray_each_described(tf):
    egress = rules(tf, "egress")
    ports = {attr(r, "from_port") for r in egress.values() if r.get("self") != [True]}
    assert ports == {443, "${local.service_port}", 5432}
    (https,) = [r for r in egress.values() if attr(r, "from_port") == 443]
    assert attr(https, "cidr_blocks") == ["0.0.0.0/0"]
    assert all(attr(r, "protocol") == "tcp" and len(d) > 10 for d, r in egress.items())


def test_every_ray_node_launches_in_the_group_and_no_auto_scaling_group_remains(tf):
    template = tf.resource("aws_launch_template", "ray_node")
    assert attr(template, "vpc_security_group_ids") == ["${aws_security_group.this.id}"]
    kinds = {kind for kind, _ in tf.resources()}
    assert not kinds & {"aws_autoscaling_group", "aws_autoscaling_policy"}
    assert not {"enable_autoscaling", "worker_ami_id", "database_url"} & set(tf.variables)
    assert not (TERRAFORM_DIR / "templates").exists() or not any((TERRAFORM_DIR / "templates").iterdir())


def test_the_database_password_is_an_input_secret_arn_never_a_value(tf):
    assert "default" not in tf.variables["database_secret_arn"]
    assert "secretsmanager" in attr(tf.variables["database_secret_arn"]["validation"][0], "condition")
    source = "\n".join(p.read_text() for p in TERRAFORM_DIR.glob("*.tf"))
    assert "aws_secretsmanager_secret_version" not in source and "user_data" not in source
    outputs = {name: body for _, block in tf.blocks("output") for name, body in block.items()}
    assert attr(outputs["database_secret_arn"], "value") == "${var.database_secret_arn}"


def test_ray_nodes_launch_from_the_current_dlami_with_imdsv2_and_encrypted_disks(tf):
    template = tf.resource("aws_launch_template", "ray_node")
    assert attr(template, "image_id") == "${data.aws_ssm_parameter.ray_node_ami.insecure_value}"
    assert "/aws/service/deeplearning/ami/" in tf.default("ray_node_ami_ssm_parameter")
    assert template["metadata_options"][0]["http_tokens"] == ["required"]
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] == [True]


# --- Variables and outputs ------------------------------------------------------------------------


def test_every_variable_has_a_description_and_a_type(tf):
    incomplete = [name for name, body in tf.variables.items() if not {"description", "type"} <= set(body)]
    assert incomplete == []


@pytest.mark.parametrize(
    "variable",
    [
        "s3_bucket_name", "aws_region", "visibility_timeout_seconds", "message_retention_seconds",
        "dlq_message_retention_seconds", "max_receive_count", "queue_depth_alarm_threshold", "dlq_alarm_threshold",
        "receive_wait_time_seconds", "media_suffixes", "ssh_ingress_cidrs", "service_ingress_cidrs",
        "database_secret_arn",
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
        "ray_node_launch_template_name", "aws_region", "database_secret_arn",
        "head_role_arn", "head_instance_profile_name", "head_instance_profile_arn",
    } <= outputs
    assert "pass_worker_role_policy_arn" not in outputs


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


def test_the_port_serve_yaml_listens_on_is_the_one_the_group_admits(tf):
    import yaml

    serve = yaml.safe_load((TERRAFORM_DIR.parent / "stockmind" / "service" / "serve.yaml").read_text())
    (service_port,) = [attr(block, "service_port") for _, block in tf.blocks("locals") if "service_port" in block]
    assert serve["http_options"]["port"] == service_port
