# ---------------------------------------------------------------------------------------------------
# IAM: the media workers' role and the Ray head's role, each with an instance profile
# ---------------------------------------------------------------------------------------------------
# The policies are JSON templates in policies/, rendered here and, with the same templatefile(), by
# the tests (tests/unit/terraform_policies.py) that run the code against them under moto's IAM
# enforcement: one source of truth for what each node may do.
#
#   worker.json.tftpl  what the code does on any node: read media (the exact version an event names),
#                      list it for the backfill, consume the queue, send poison to the DLQ, read the
#                      database secret, write logs.
#   head.json.tftpl    what only the head does: launch, tag and terminate the cluster's workers and
#                      hand them the worker role.
#
# The head gets both: job drivers, the SQS ingestor actor, backfill tasks and Serve replicas may all
# be placed on it.

locals {
  worker_policy = templatefile("${path.module}/policies/worker.json.tftpl", {
    bucket_arn     = aws_s3_bucket.this.arn
    media_prefix   = var.media_prefix
    queue_arn      = aws_sqs_queue.this.arn
    dlq_arn        = aws_sqs_queue.dlq.arn
    log_group_arns = [aws_cloudwatch_log_group.worker.arn, aws_cloudwatch_log_group.application.arn]
    # DATABASE_URL's password: read at start by whatever opens the store (drivers, writers, replicas).
    database_secret_arn = var.database_secret_arn
  })

  head_policy = templatefile("${path.module}/policies/head.json.tftpl", {
    partition           = local.partition
    region              = var.aws_region
    ec2_arn             = "arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}"
    launch_template_arn = aws_launch_template.ray_node.arn
    cluster_name        = var.ray_cluster_name
    worker_role_arn     = aws_iam_role.this.arn
  })
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# --- Workers -----------------------------------------------------------------------------------------

resource "aws_iam_role" "this" {
  name               = "${var.project_name}-media-worker"
  description        = "Stock Mind media workers: read media, consume the media queue, write logs."
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.project_name}-media-worker"
  role   = aws_iam_role.this.id
  policy = local.worker_policy
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.project_name}-media-worker"
  role = aws_iam_role.this.name
}

# --- Ray head ----------------------------------------------------------------------------------------
# cluster.yaml names this profile for the head node, so `ray up` creates no ray-autoscaler-v1 role
# (EC2 and S3 full access) and `terraform destroy` removes everything the head was granted.

resource "aws_iam_role" "head" {
  name               = "${var.project_name}-ray-head"
  description        = "Stock Mind Ray head: job drivers and media work, plus launching the cluster's GPU workers."
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "head_media" {
  name   = "${var.project_name}-ray-head-media"
  role   = aws_iam_role.head.id
  policy = local.worker_policy
}

resource "aws_iam_role_policy" "head" {
  name   = "${var.project_name}-ray-head-launch-workers"
  role   = aws_iam_role.head.id
  policy = local.head_policy
}

resource "aws_iam_instance_profile" "head" {
  name = "${var.project_name}-ray-head"
  role = aws_iam_role.head.name
}
