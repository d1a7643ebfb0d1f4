"""A moto server of its own with IAM enforcement on, and identities whose policies are Terraform's.

The session's shared moto server keeps no auth; this one, after `POST /moto-api/reset-auth` with
`0`, authenticates and authorises every request against the caller's IAM policies. Each identity
(the worker role, the head role, and an admin that plays S3 and the operator) is an IAM user whose
inline policies are the templates of terraform/policies/ rendered with this server's ARNs.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import boto3

from stockmind.local.aws_topology import create_topology
from stockmind.local.moto_server import MotoServer
from stockmind.local.ports import free_port
from tests.unit.terraform_policies import PolicyResources

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "stock-mind-iam-test"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# AWS authorises a batch call as its single-message action; moto checks the API name itself. The
# policies given to moto carry both names, so they grant on moto exactly what they grant on AWS.
AWS_ACTION_OF_MOTO_ACTION = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}


@dataclass(frozen=True)
class Identity:
    name: str
    access_key_id: str
    secret_access_key: str

    def env(self, endpoint_url: str) -> dict[str, str]:
        """What boto3 (and, through ray_env, Ray workers) read: this server and these keys only."""
        return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_ENDPOINT_URL_S3": endpoint_url,
                "AWS_ENDPOINT_URL_SQS": endpoint_url, "AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key, "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION}

    def client(self, service: str, endpoint_url: str):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url,
                            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)


@dataclass
class EnforcedAws:
    server: MotoServer
    queue_url: str
    dlq_url: str
    resources: PolicyResources
    admin: Identity
    identities: dict[str, Identity]

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def client(self, service: str, who: str = "admin"):
        identity = self.admin if who == "admin" else self.identities[who]
        return identity.client(service, self.endpoint_url)

    def add_identity(self, name: str, policies: dict[str, dict]) -> Identity:
        """An IAM user with these inline policies (created by the admin, under enforcement)."""
        identity = create_user(self.client("iam"), name, policies)
        self.identities[name] = identity
        return identity

    def stop(self) -> None:
        self.server.stop()


def start_enforced_aws(log_dir: Path) -> EnforcedAws:
    server = MotoServer.start(free_port(), log_dir / "moto-iam.log")
    bootstrap = Identity("bootstrap", "bootstrap", "bootstrap")  # any keys pass until auth is on
    s3, sqs = bootstrap.client("s3", server.endpoint_url), bootstrap.client("sqs", server.endpoint_url)
    urls = create_topology(s3, sqs, BUCKET, REGION)
    # As on AWS: versioned, so every event names a version. The test sends the events itself,
    # shaped like S3's (moto's carry no versionId or sequencer and none for delete markers).
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={})
    sqs.purge_queue(QueueUrl=urls.queue_url)
    resources = policy_resources(sqs, urls.queue_url, urls.dlq_url)
    iam = bootstrap.client("iam", server.endpoint_url)
    admin = create_user(iam, "admin", {"admin": ADMIN_POLICY})
    worker = resources.worker_policy()
    identities = {
        "worker": create_user(iam, "worker", {"worker": worker}),
        "head": create_user(iam, "head", {"worker": worker, "head": resources.head_policy()}),
    }
    enable_auth(server.endpoint_url)
    return EnforcedAws(server, urls.queue_url, urls.dlq_url, resources, admin, identities)


def policy_resources(sqs, queue_url: str, dlq_url: str) -> PolicyResources:
    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/ec2/stock-mind"
    return PolicyResources(
        bucket_arn=f"arn:aws:s3:::{BUCKET}", queue_arn=arn(queue_url), dlq_arn=arn(dlq_url),
        log_group_arns=(f"{logs}/media-worker", f"{logs}/application"),
        worker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/stock-mind-media-worker",
        launch_template_arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/lt-0123456789abcdef0",
        region=REGION, account_id=ACCOUNT,
    )


def create_user(iam, name: str, policies: dict[str, dict]) -> Identity:
    iam.create_user(UserName=name)
    for policy_name, document in policies.items():
        iam.put_user_policy(UserName=name, PolicyName=policy_name,
                            PolicyDocument=json.dumps(with_moto_action_names(document)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Identity(name, key["AccessKeyId"], key["SecretAccessKey"])


def with_moto_action_names(policy: dict) -> dict:
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        extra = [moto for moto, aws in AWS_ACTION_OF_MOTO_ACTION.items() if aws in actions]
        statement["Action"] = actions + extra
    return policy


def without_action(policy: dict, action: str) -> dict:
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return policy


def enable_auth(endpoint_url: str) -> None:
    """From now on every request is authenticated and authorised."""
    # Not form-encoded: moto reads the raw body, which a form content type would leave empty.
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()


# --- S3 events as AWS sends them -------------------------------------------------------------------

_sequence = iter(range(1, 10**9))


def s3_event(name: str, bucket: str, key: str, version_id: str, etag: str | None = None,
             size: int | None = None) -> str:
    obj = {"key": quote_plus(key), "versionId": version_id,
           "sequencer": f"{int(time.time() * 1e6):X}{next(_sequence):08X}"}
    if etag is not None:
        obj.update(eTag=etag.strip('"'), size=size)
    record = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def upload_with_event(s3, sqs, queue_url: str, bucket: str, key: str, data: bytes) -> str:
    """PUT an object and enqueue its ObjectCreated:Put event; returns the version id."""
    put = s3.put_object(Bucket=bucket, Key=key, Body=data)
    sqs.send_message(QueueUrl=queue_url, MessageBody=s3_event(
        "ObjectCreated:Put", bucket, key, put["VersionId"], put["ETag"], len(data)))
    return put["VersionId"]


def delete_with_event(s3, sqs, queue_url: str, bucket: str, key: str) -> None:
    """DELETE (a delete marker in a versioned bucket) and enqueue the event AWS sends for it."""
    marker = s3.delete_object(Bucket=bucket, Key=key)
    assert marker.get("DeleteMarker"), marker
    sqs.send_message(QueueUrl=queue_url, MessageBody=s3_event(
        "ObjectRemoved:DeleteMarkerCreated", bucket, key, marker["VersionId"]))
