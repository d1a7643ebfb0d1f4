# ---------------------------------------------------------------------------------------------------
# Outputs: what the workers, cluster.yaml and operators need
# ---------------------------------------------------------------------------------------------------

output "queue_url" {
  description = "Media queue URL: the workers' SQS_QUEUE_URL."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "Media queue ARN."
  value       = aws_sqs_queue.this.arn
}

output "dlq_url" {
  description = "Dead-letter queue URL: the workers' STOCKMIND_DLQ_URL."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "Dead-letter queue ARN."
  value       = aws_sqs_queue.dlq.arn
}

output "bucket_name" {
  description = "Media bucket name: the workers' S3_BUCKET_NAME."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "Media bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "worker_role_name" {
  description = "IAM role of the media workers."
  value       = aws_iam_role.this.name
}

output "worker_role_arn" {
  description = "IAM role ARN of the media workers."
  value       = aws_iam_role.this.arn
}

output "worker_instance_profile_name" {
  description = "Instance profile of the media workers."
  value       = aws_iam_instance_profile.this.name
}

output "worker_instance_profile_arn" {
  description = "Instance profile ARN: cluster.yaml's worker IamInstanceProfile.Arn."
  value       = aws_iam_instance_profile.this.arn
}

output "sns_topic_arn" {
  description = "Alert topic that the queue alarms notify."
  value       = aws_sns_topic.this.arn
}

output "worker_log_group_name" {
  description = "CloudWatch log group of the media workers."
  value       = aws_cloudwatch_log_group.worker.name
}

output "application_log_group_name" {
  description = "CloudWatch log group of the application."
  value       = aws_cloudwatch_log_group.application.name
}

output "security_group_id" {
  description = "Security group of every Ray node: cluster.yaml's SecurityGroupIds (SSH from ssh_ingress_cidrs, Ray between nodes, port 8000)."
  value       = aws_security_group.this.id
}

output "aws_region" {
  description = "Region of every resource: cluster.yaml's provider.region and the workers' AWS_REGION."
  value       = var.aws_region
}

output "database_secret_arn" {
  description = "Secret with the database password (its ARN, not its value): the nodes' STOCKMIND_DATABASE_SECRET_ARN."
  value       = var.database_secret_arn
}

output "worker_environment" {
  description = "The nodes' environment for .stockmind/cluster.env (DATABASE_URL, without its password, is set by the operator)."
  value = {
    SQS_QUEUE_URL                 = aws_sqs_queue.this.url
    STOCKMIND_DLQ_URL             = aws_sqs_queue.dlq.url
    S3_BUCKET_NAME                = aws_s3_bucket.this.bucket
    AWS_REGION                    = var.aws_region
    STOCKMIND_DATABASE_SECRET_ARN = var.database_secret_arn
  }
}

output "ray_node_launch_template_name" {
  description = "Launch template that cluster.yaml's node types name (AMI, IMDSv2, encrypted root volume)."
  value       = aws_launch_template.ray_node.name
}

# --- Ray head identity (iam.tf) ----------------------------------------------------------------------
# cluster.yaml's head node_config names this profile (IamInstanceProfile), so `ray up` creates no role.

output "head_role_arn" {
  description = "IAM role ARN of the Ray head (worker policy plus launching workers with the worker role)."
  value       = aws_iam_role.head.arn
}

output "head_instance_profile_name" {
  description = "Instance profile of the Ray head: cluster.yaml's head IamInstanceProfile.Name."
  value       = aws_iam_instance_profile.head.name
}

output "head_instance_profile_arn" {
  description = "Instance profile ARN of the Ray head: cluster.yaml's head IamInstanceProfile.Arn."
  value       = aws_iam_instance_profile.head.arn
}
