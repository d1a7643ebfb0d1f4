"""The failure policy of the stream, in one place.

- Poison input (`PoisonInput`: not an S3 event, not a media key, corrupt or undecodable media, a
  decompression bomb, an unsupported codec, an object missing from S3, ...): retrying cannot help.
  The original body goes to the DLQ with the reason as message attributes, then the message is
  deleted from the queue; the rest of the batch carries on.
- Anything else is transient (database down, S3/SQS throttling or 5xx after boto3's own retries, an
  embedder actor that died): nothing is deleted; the message becomes visible again after a backoff
  that grows with its receive count. A message that keeps failing this way reaches the queue's
  maxReceiveCount and SQS's redrive moves it to the DLQ, so a bug cannot loop forever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from stockmind.errors import PoisonInput
from stockmind.stream.metrics import StreamMetrics
from stockmind.stream.sqs_source import SqsMessage, SqsSource

log = logging.getLogger(__name__)

# SQS limits a message (body + attributes) to 256 KiB; a reason is a line, not a dump.
MAX_DETAIL_CHARS = 1000
RETRY_BASE_S = 2.0
RETRY_CAP_S = 300.0


def is_poison(error: BaseException) -> bool:
    return isinstance(error, PoisonInput)


def retry_delay_s(attempt: int, base_s: float = RETRY_BASE_S, cap_s: float = RETRY_CAP_S) -> float:
    """Exponential backoff: base, 2×base, 4×base, ... capped; `attempt` counts from 1."""
    return min(cap_s, base_s * 2 ** max(0, attempt - 1))


def dlq_attributes(error: PoisonInput, message: SqsMessage, key: str | None) -> dict[str, dict]:
    """The reason, as SQS message attributes: what went wrong, where, and after how many receives."""
    attributes = {
        "ErrorType": _text(error.reason),
        "ErrorClass": _text(type(error).__name__),
        "ErrorDetail": _text(str(error)[:MAX_DETAIL_CHARS] or error.reason),
        "ReceiveCount": {"DataType": "Number", "StringValue": str(message.receive_count)},
        "SourceMessageId": _text(message.message_id),
    }
    if key:
        attributes["ObjectKey"] = _text(key[:MAX_DETAIL_CHARS])
    return attributes


class FailurePolicy:
    def __init__(self, source: SqsSource, metrics: StreamMetrics, retry_base_s: float = RETRY_BASE_S):
        self._source = source
        self._metrics = metrics
        self._retry_base_s = retry_base_s

    def reject(self, message: SqsMessage, error: PoisonInput, key: str | None = None) -> None:
        """Poison: DLQ with the reason, then delete. If the DLQ cannot be reached, retry later instead."""
        log.warning("poison message=%s key=%s reason=%s receive_count=%d detail=%s",
                    message.message_id, key, error.reason, message.receive_count, error)
        try:
            self._source.send_to_dlq(message, dlq_attributes(error, message, key))
        except Exception as send_error:  # noqa: BLE001 - any failure to reach the DLQ is transient
            self.retry_later([message], send_error, key)
            return
        self._metrics.count("dlq")
        self._metrics.count("failed")
        self._source.delete([message])

    def retry_later(self, messages: Sequence[SqsMessage], error: BaseException, key: str | None = None) -> None:
        """Transient: no delete; each message comes back after a backoff set by its receive count."""
        for message in messages:
            delay = retry_delay_s(message.receive_count, self._retry_base_s)
            log.warning("transient message=%s key=%s error=%s receive_count=%d retry_in_s=%.0f detail=%s",
                        message.message_id, key, type(error).__name__, message.receive_count, delay, error)
            self._metrics.count("retried")
            self._metrics.count("failed")
            try:
                self._source.change_visibility([message], delay)
            except Exception as change_error:  # noqa: BLE001 - the visibility timeout brings it back anyway
                log.warning("could not delay message=%s (%s); it returns when its visibility times out",
                            message.message_id, change_error)


def _text(value: str) -> dict:
    return {"DataType": "String", "StringValue": value}
