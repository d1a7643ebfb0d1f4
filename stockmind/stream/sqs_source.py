"""The queue side of the stream: receive, delete, change visibility, and send to the dead-letter queue.

Thin wrappers over boto3's SQS calls that speak in `SqsMessage`s and use the batch APIs (at most
10 entries per call, SQS's limit). boto3's own retry modes handle throttling and 5xx; what still
fails is raised (or, for batch calls, returned) so the failure policy can decide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

log = logging.getLogger(__name__)

# SQS accepts at most 10 messages per receive and 10 entries per batch call.
SQS_BATCH_LIMIT = 10
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_SECONDS = 12 * 3600


@dataclass(frozen=True)
class SqsMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: datetime | None


class SqsSource:
    def __init__(self, sqs, queue_url: str, dlq_url: str | None):
        # Configured, not looked up: finding it from the redrive policy would need sqs:GetQueueUrl,
        # which the worker policy does not grant (Terraform outputs the URL: worker_environment).
        if not dlq_url:
            raise ValueError("STOCKMIND_DLQ_URL is required: the dead-letter queue's URL (terraform output dlq_url)")
        self._sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url

    def receive(self, max_messages: int, wait_s: float, visibility_s: int | None = None) -> list[SqsMessage]:
        """Long-poll for up to `max_messages` (1-10) messages; [] when the wait ends empty."""
        request = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max(1, min(SQS_BATCH_LIMIT, max_messages)),
            "WaitTimeSeconds": int(max(0, min(MAX_WAIT_SECONDS, wait_s))),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        }
        if visibility_s is not None:
            request["VisibilityTimeout"] = int(visibility_s)
        response = self._sqs.receive_message(**request)
        return [_message(raw) for raw in response.get("Messages", [])]

    def visibility_timeout(self) -> int:
        """The queue's default visibility timeout, in seconds."""
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        return int(attributes["Attributes"]["VisibilityTimeout"])

    def delete(self, messages: Sequence[SqsMessage]) -> list[SqsMessage]:
        """Delete `messages`; returns those SQS did not delete (they will come back: writes are idempotent)."""
        failed = []
        for chunk in _chunks(messages):
            entries = [{"Id": str(n), "ReceiptHandle": m.receipt_handle} for n, m in enumerate(chunk)]
            response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed += _failed_entries(chunk, response, "delete")
        return failed

    def change_visibility(self, messages: Sequence[SqsMessage], seconds: float) -> list[SqsMessage]:
        """Make `messages` invisible for `seconds` from now (0 releases them at once); returns failures."""
        seconds = int(max(0, min(MAX_VISIBILITY_SECONDS, seconds)))
        failed = []
        for chunk in _chunks(messages):
            entries = [
                {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": seconds}
                for n, m in enumerate(chunk)
            ]
            response = self._sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            failed += _failed_entries(chunk, response, "change visibility of")
        return failed

    def send_to_dlq(self, message: SqsMessage, attributes: dict[str, dict]) -> None:
        """The original body, unchanged, with the reason as message attributes."""
        self._sqs.send_message(QueueUrl=self.dlq_url, MessageBody=message.body, MessageAttributes=attributes)


def _message(raw: dict) -> SqsMessage:
    attributes = raw.get("Attributes", {})
    sent_ms = attributes.get("SentTimestamp")
    return SqsMessage(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw.get("Body", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        sent_at=datetime.fromtimestamp(int(sent_ms) / 1000, timezone.utc) if sent_ms else None,
    )


def _chunks(messages: Sequence[SqsMessage]) -> Iterator[Sequence[SqsMessage]]:
    for start in range(0, len(messages), SQS_BATCH_LIMIT):
        yield messages[start:start + SQS_BATCH_LIMIT]


def _failed_entries(chunk: Sequence[SqsMessage], response: dict, action: str) -> list[SqsMessage]:
    failed = []
    for entry in response.get("Failed", []):
        message = chunk[int(entry["Id"])]
        log.warning("could not %s message %s: %s %s", action, message.message_id, entry.get("Code"),
                    entry.get("Message"))
        failed.append(message)
    return failed
