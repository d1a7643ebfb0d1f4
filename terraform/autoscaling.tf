# ---------------------------------------------------------------------------------------------------
# Optional: plain EC2 workers in an Auto Scaling group that follows the queue backlog
# ---------------------------------------------------------------------------------------------------
# Off by default: the Ray cluster (cluster.yaml) runs the workers. This is for a fleet without Ray's
# autoscaler; the AMI must carry the worker and a stockmind-worker systemd unit.

locals {
  autoscaling_count = var.enable_autoscaling ? 1 : 0
}

resource "aws_launch_template" "this" {
  count = local.autoscaling_count

  name_prefix            = "${var.project_name}-media-worker-"
  image_id               = var.worker_ami_id
  instance_type          = var.worker_instance_type
  vpc_security_group_ids = [aws_security_group.this.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  # IMDSv2 only, one hop: credentials are not reachable from containers on the host.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = 100
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/templates/worker-user-data.sh.tftpl", {
    sqs_queue_url         = aws_sqs_queue.this.url
    dlq_url               = aws_sqs_queue.dlq.url
    s3_bucket_name        = aws_s3_bucket.this.bucket
    aws_region            = var.aws_region
    embedding_service_url = var.embedding_service_url
    database_url          = var.database_url
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.project_name}-media-worker" }
  }

  lifecycle {
    precondition {
      condition     = var.worker_ami_id != null && length(var.worker_subnet_ids) > 0
      error_message = "enable_autoscaling needs worker_ami_id and worker_subnet_ids."
    }
  }
}

resource "aws_autoscaling_group" "this" {
  count = local.autoscaling_count

  name_prefix         = "${var.project_name}-media-worker-"
  min_size            = var.worker_min_size
  max_size            = var.worker_max_size
  vpc_zone_identifier = var.worker_subnet_ids
  health_check_type   = "EC2"

  launch_template {
    id      = aws_launch_template.this[0].id
    version = aws_launch_template.this[0].latest_version
  }

  instance_refresh {
    strategy = "Rolling"
  }

  tag {
    key                 = "Name"
    value               = "${var.project_name}-media-worker"
    propagate_at_launch = true
  }

  lifecycle {
    precondition {
      condition     = var.worker_min_size <= var.worker_max_size
      error_message = "worker_min_size must not exceed worker_max_size."
    }
  }
}

# The backlog grows when there are too few workers and shrinks as they are added, which is what
# target tracking needs; unlike a per-instance ratio it also scales out from zero instances.
resource "aws_autoscaling_policy" "backlog" {
  count = local.autoscaling_count

  name                   = "${var.project_name}-media-queue-backlog"
  autoscaling_group_name = aws_autoscaling_group.this[0].name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    target_value = var.worker_target_backlog

    customized_metric_specification {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      statistic   = "Average"

      metric_dimension {
        name  = "QueueName"
        value = aws_sqs_queue.this.name
      }
    }
  }
}
