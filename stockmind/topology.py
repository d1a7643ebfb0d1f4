"""The AWS topology shared by Terraform and the embedded local stack.

One source of truth: `terraform/variables.tf` defaults and the local stack both follow these values,
and `tests/unit/test_terraform_topology.py` proves that they agree.
"""

from stockmind.media.types import MEDIA_SUFFIXES

MEDIA_PREFIX = "clients/"

NOTIFICATION_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")

QUEUE_NAME = "stock-mind-media-queue"
DLQ_NAME = "stock-mind-media-dlq"
MAX_RECEIVE_COUNT = 5
# Long enough for a video (fetch + decode + embed); the worker extends it while it works.
VISIBILITY_TIMEOUT_SECONDS = 300
RECEIVE_WAIT_SECONDS = 20
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600

QUEUE_DEPTH_ALARM_THRESHOLD = 1000
WORKER_LOG_GROUP = "/aws/ec2/stock-mind/media-worker"
APPLICATION_LOG_GROUP = "/aws/ec2/stock-mind/application"


def notification_suffixes() -> list[str]:
    """S3 suffix filters are case-sensitive: every suffix an S3 notification filter needs, lower- and upper-case,
    without repeats."""
    suffixes = [s for group in MEDIA_SUFFIXES.values() for s in group]
    return list(dict.fromkeys(suffixes + [s.upper() for s in suffixes]))


def redrive_policy(dlq_arn: str) -> dict:
    return {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
