# ---------------------------------------------------------------------------------------------------
# Network: the workers' security group (egress only; nothing connects to a worker)
# ---------------------------------------------------------------------------------------------------

data "aws_vpc" "selected" {
  id      = var.vpc_id
  default = var.vpc_id == null ? true : null
}

locals {
  vpc_cidr_blocks      = [data.aws_vpc.selected.cidr_block]
  database_cidr_blocks = length(var.database_cidr_blocks) > 0 ? var.database_cidr_blocks : local.vpc_cidr_blocks
  service_cidr_blocks  = length(var.service_cidr_blocks) > 0 ? var.service_cidr_blocks : local.vpc_cidr_blocks
}

resource "aws_security_group" "this" {
  name        = "${var.project_name}-media-worker"
  description = "Stock Mind media workers: outbound to AWS APIs, the embedding service and PostgreSQL only"
  vpc_id      = data.aws_vpc.selected.id

  # S3, SQS and CloudWatch are public regional endpoints unless the VPC has interface endpoints.
  egress {
    description = "HTTPS to AWS APIs (S3, SQS, CloudWatch Logs)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "Embedding/search service (EMBEDDING_SERVICE_URL)"
    from_port   = 8000
    to_port     = 8000
    protocol    = "tcp"
    cidr_blocks = local.service_cidr_blocks
  }

  egress {
    description = "PostgreSQL with pgvector (DATABASE_URL)"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = local.database_cidr_blocks
  }

  lifecycle {
    create_before_destroy = true
  }
}
