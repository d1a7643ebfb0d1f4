"""Create, on the local S3/SQS endpoint, the topology Terraform creates on AWS.

Names, suffixes and queue settings come from `stockmind.topology`, the values Terraform's defaults
are tested against, so the local stack and AWS cannot drift apart.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from stockmind import topology

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueUrls:
    queue_url: str
    dlq_url: str


def create_topology(s3, sqs, bucket: str, region: str) -> QueueUrls:
    """Idempotent: bucket, DLQ, queue with redrive, and the bucket's event notifications.

    One deliberate difference from Terraform: the local bucket is not versioned, because moto 5.2.5
    sends no `ObjectRemoved:DeleteMarkerCreated` event for a delete in a versioned bucket (AWS
    does), and deletes must reach the index locally too.
    """
    dlq_url = sqs.create_queue(
        QueueName=topology.DLQ_NAME,
        Attributes={"MessageRetentionPeriod": str(topology.DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=topology.QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(topology.VISIBILITY_TIMEOUT_SECONDS),
            "ReceiveMessageWaitTimeSeconds": str(topology.RECEIVE_WAIT_SECONDS),
            "MessageRetentionPeriod": str(topology.QUEUE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(topology.redrive_policy(dlq_arn)),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    if not _bucket_exists(s3, bucket):
        create = {"Bucket": bucket}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**create)
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": notification_rules(queue_arn)}
        )
        _drop_test_events(sqs, queue_url)
    return QueueUrls(queue_url=queue_url, dlq_url=dlq_url)


def create_log_groups(logs) -> list[str]:
    """Idempotent: the jobs' and the service's CloudWatch log groups (Terraform's monitoring.tf)."""
    groups = [topology.WORKER_LOG_GROUP, topology.APPLICATION_LOG_GROUP]
    for group in groups:
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            continue
    return groups


def notification_rules(queue_arn: str) -> list[dict]:
    """One rule per suffix (S3 allows one suffix per rule), all under the clients/ prefix."""
    return [
        {
            "Id": f"media{suffix.replace('.', '-')}",
            "QueueArn": queue_arn,
            "Events": list(topology.NOTIFICATION_EVENTS),
            "Filter": {
                "Key": {
                    "FilterRules": [
                        {"Name": "prefix", "Value": topology.MEDIA_PREFIX},
                        {"Name": "suffix", "Value": suffix},
                    ]
                }
            },
        }
        for suffix in topology.notification_suffixes()
    ]


def _bucket_exists(s3, bucket: str) -> bool:
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    return bucket in names


def _drop_test_events(sqs, queue_url: str) -> None:
    """S3 enqueues an s3:TestEvent when notifications are configured; start the stack with an empty queue."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        if '"s3:TestEvent"' in message["Body"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
