"""What the rendered IAM policies grant: what the code calls, on exactly our resources, and no more.

Rendered with the terraform binary's templatefile() (tests/unit/terraform_policies.py), the same
function iam.tf uses; tests/integration/test_iam_enforced.py runs the code against them.
"""

import pytest

from tests.unit.terraform_policies import PolicyResources, granted, render_policy

ACCOUNT = "123456789012"
EC2 = f"arn:aws:ec2:us-east-1:{ACCOUNT}"
RESOURCES = PolicyResources(
    bucket_arn="arn:aws:s3:::media",
    queue_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:stock-mind-media-queue",
    dlq_arn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:stock-mind-media-dlq",
    log_group_arns=(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/ec2/stock-mind/media-worker",
                    f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/ec2/stock-mind/application"),
    worker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/stock-mind-media-worker",
    launch_template_arn=f"{EC2}:launch-template/lt-0123456789abcdef0",
    account_id=ACCOUNT,
)


@pytest.fixture(scope="module")
def worker():
    return RESOURCES.worker_policy()


@pytest.fixture(scope="module")
def head():
    return RESOURCES.head_policy()


def by_sid(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_worker_policy_grants_what_the_stream_backfill_service_and_log_handler_call(worker):
    queue, dlq = RESOURCES.queue_arn, RESOURCES.dlq_arn
    assert granted(worker) == (
        # The bucket is versioned: events carry a versionId and the stream GETs exactly that version.
        {("s3:GetObject", "arn:aws:s3:::media/*"), ("s3:GetObjectVersion", "arn:aws:s3:::media/*")}
        | {("s3:ListBucket", "arn:aws:s3:::media")}
        | {(a, queue) for a in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                "sqs:GetQueueAttributes"]}
        | {("sqs:SendMessage", dlq)}
        # DATABASE_URL's password, read at start by whatever opens the store.
        | {("secretsmanager:GetSecretValue", RESOURCES.database_secret_arn)}
        # watchtower with create_log_group=False: PutLogEvents, and CreateLogStream when a stream is new.
        | {(a, f"{group}:*") for a in ["logs:CreateLogStream", "logs:PutLogEvents"]
           for group in RESOURCES.log_group_arns}
    )


def test_nothing_writes_or_deletes_media_and_the_dlq_url_is_configured_not_looked_up(worker):
    actions = {action for action, _ in granted(worker)}
    assert not actions & {"s3:PutObject", "s3:DeleteObject", "sqs:GetQueueUrl", "logs:CreateLogGroup"}
    assert not [resource for _, resource in granted(worker) if resource == "*"]


def test_bucket_listing_is_limited_to_the_media_prefix(worker):
    condition = by_sid(worker)["ListMediaForBackfill"]["Condition"]
    assert condition == {"StringLike": {"s3:prefix": ["clients/", "clients/*"]}}


def test_head_launches_workers_only_from_our_launch_template_in_our_region_and_account(head):
    launch = by_sid(head)["LaunchRayWorkers"]
    assert launch["Action"] == "ec2:RunInstances"
    assert RESOURCES.launch_template_arn in launch["Resource"]
    assert "arn:aws:ec2:us-east-1::image/*" in launch["Resource"]
    others = set(launch["Resource"]) - {RESOURCES.launch_template_arn, "arn:aws:ec2:us-east-1::image/*"}
    assert others and all(resource.startswith(f"{EC2}:") for resource in others)


def test_head_retags_and_terminates_only_instances_of_its_cluster(head):
    statements = by_sid(head)
    at_launch = statements["TagWorkersAtLaunch"]
    assert at_launch["Action"] == "ec2:CreateTags"
    assert at_launch["Condition"] == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
    own = statements["RetagAndTerminateClusterNodes"]
    assert set(own["Action"]) == {"ec2:CreateTags", "ec2:TerminateInstances"}
    assert own["Resource"] == f"{EC2}:instance/*"
    assert own["Condition"] == {"StringEquals": {"ec2:ResourceTag/ray-cluster-name": "stockmind"}}


def test_head_may_pass_only_the_worker_role_and_only_to_ec2(head):
    passing = [(action, resource) for action, resource in granted(head) if action.startswith("iam:")]
    assert passing == [("iam:PassRole", RESOURCES.worker_role_arn)]
    assert by_sid(head)["PassWorkerRoleToEc2"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_only_describe_calls_are_granted_on_every_resource(head):
    # DescribeInstances supports no resource-level permissions; everything else is scoped.
    assert {action for action, resource in granted(head) if resource == "*"} == {"ec2:DescribeInstances"}


def test_rendering_fails_with_a_clear_message_without_the_terraform_binary(monkeypatch):
    monkeypatch.setenv("STOCKMIND_TERRAFORM", "/nonexistent/terraform")
    with pytest.raises(RuntimeError, match="terraform binary is missing"):
        render_policy("worker", {})
