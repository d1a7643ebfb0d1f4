# ---------------------------------------------------------------------------------------------------
# EventBridge: the opt-in fan-out path (event_delivery = "eventbridge")
# ---------------------------------------------------------------------------------------------------
# A bucket has one notification configuration. With event_delivery = "eventbridge" the bucket sends
# its events to EventBridge instead of to the queue (s3.tf), other consumers add rules of their own,
# and this rule routes media creations and deletions to the media queue with the filters the direct
# notifications use. The stream reads EventBridge events as it reads S3's own notifications.

locals {
  eventbridge = var.event_delivery == "eventbridge"
}

resource "aws_cloudwatch_event_rule" "media" {
  count       = local.eventbridge ? 1 : 0
  name        = "${var.project_name}-media-events" # project_name's 32 characters keep it under EventBridge's 64
  description = "Media objects created or deleted under ${var.media_prefix}, to the media queue."

  # One wildcard per suffix: a key must match the prefix and a suffix at once (a list of prefix and
  # suffix filters would match either). Suffixes are case-sensitive here too, as in S3's filters.
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = {
      bucket = { name = [aws_s3_bucket.this.id] }
      object = { key = [for suffix in var.media_suffixes : { wildcard = "${var.media_prefix}*${suffix}" }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "media_queue" {
  count     = local.eventbridge ? 1 : 0
  rule      = aws_cloudwatch_event_rule.media[0].name
  target_id = "media-queue"
  arn       = aws_sqs_queue.this.arn
}
