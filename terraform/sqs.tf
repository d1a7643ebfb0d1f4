# ---------------------------------------------------------------------------------------------------
# SQS: media queue and its dead-letter queue
# ---------------------------------------------------------------------------------------------------
# SSE-SQS (service-managed keys) encrypts at rest without a key policy for S3 or kms:Decrypt for the
# workers, so S3 can deliver events and the worker policy stays as specified.

resource "aws_sqs_queue" "this" {
  name                       = var.queue_name
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = var.visibility_timeout_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  message_retention_seconds  = var.message_retention_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue" "dlq" {
  name                      = var.dlq_name
  sqs_managed_sse_enabled   = true
  message_retention_seconds = var.dlq_message_retention_seconds
}

# Only the media queue may use the DLQ (a separate resource: inline it would be a dependency cycle).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}

# Only this bucket, in this account, may send; the account condition guards against a bucket of the
# same name in another account after ours is deleted.
data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "AllowMediaBucketEvents"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # With event_delivery = "eventbridge": only the media rule (eventbridge.tf) may send.
  dynamic "statement" {
    for_each = aws_cloudwatch_event_rule.media
    content {
      sid       = "AllowMediaEventRule"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.this.arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value.arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue.json
}
