# ---------------------------------------------------------------------------------------------------
# Monitoring: log groups, alert topic, queue alarms
# ---------------------------------------------------------------------------------------------------

locals {
  log_group_arn_prefix = "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:"
}

# One customer-managed key for the alert topic and the log groups. An AWS-managed SNS key would not
# do: its policy cannot grant CloudWatch alarms the right to publish to an encrypted topic.
resource "aws_kms_key" "this" {
  description             = "Stock Mind alerts topic and log groups"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsOurLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = [
              "${local.log_group_arn_prefix}${var.worker_log_group_name}",
              "${local.log_group_arn_prefix}${var.application_log_group_name}",
            ]
          }
        }
      },
      {
        Sid       = "CloudWatchAlarmsPublishToAlerts"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.project_name}-monitoring"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = var.worker_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "application" {
  name              = var.application_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_sns_topic" "this" {
  name              = "${var.project_name}-alerts"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Workers are falling behind (or are down): the backlog keeps growing.
resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name          = "${var.project_name}-media-queue-depth"
  alarm_description   = "More than ${var.queue_depth_alarm_threshold} media events wait in ${var.queue_name}: scale the workers or look for errors."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.this.name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_depth_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

# Any message in the DLQ is media that will never be searchable until someone looks at it.
resource "aws_cloudwatch_metric_alarm" "dlq_messages" {
  alarm_name          = "${var.project_name}-media-dlq-messages"
  alarm_description   = "Messages in ${var.dlq_name}: media failed processing ${var.max_receive_count} times or was poison; inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dlq_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}
