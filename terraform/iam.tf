# ---------------------------------------------------------------------------------------------------
# IAM: the media workers' role, least-privilege policy and instance profile
# ---------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "worker_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.project_name}-media-worker"
  description        = "Stock Mind media workers: read media, consume the media queue, write logs."
  assume_role_policy = data.aws_iam_policy_document.worker_assume.json
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "MediaObjects"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]
  }

  # The backfill job lists existing media; ListObjectsV2 is authorised on the bucket ARN, not on
  # object ARNs, so it needs its own statement. Limited to the media prefix.
  statement {
    sid       = "ListMediaForBackfill"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.media_prefix, "${var.media_prefix}*"]
    }
  }

  statement {
    sid    = "ConsumeMediaQueue"
    effect = "Allow"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [aws_sqs_queue.this.arn]
  }

  # Poison messages go to the DLQ with their reason, straight away.
  statement {
    sid       = "SendPoisonToDlq"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid     = "WriteLogs"
    effect  = "Allow"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${aws_cloudwatch_log_group.worker.arn}:*",
      "${aws_cloudwatch_log_group.application.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.project_name}-media-worker"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.project_name}-media-worker"
  role = aws_iam_role.this.name
}

# ---------------------------------------------------------------------------------------------------
# Ray head: may hand the worker role to the GPU workers it launches (and nothing else)
# ---------------------------------------------------------------------------------------------------
# `ray up` creates the head's own role (ray-autoscaler-v1); attach this policy to it so the head can
# start workers with the instance profile above (see docs/deploy.md).

data "aws_iam_policy_document" "pass_worker_role" {
  statement {
    sid       = "PassWorkerRoleToEc2"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.this.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "pass_worker_role" {
  name        = "${var.project_name}-pass-media-worker-role"
  description = "Lets the Ray head launch GPU workers with the media worker instance profile."
  policy      = data.aws_iam_policy_document.pass_worker_role.json
}
