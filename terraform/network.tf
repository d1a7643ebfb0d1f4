# ---------------------------------------------------------------------------------------------------
# Network: the Ray nodes' security group (head and GPU workers of cluster.yaml)
# ---------------------------------------------------------------------------------------------------
# One group for every node: cluster.yaml names it in each node type's SecurityGroupIds, so Ray's
# launcher never creates its own (which opens SSH to 0.0.0.0/0 and all egress). A database rule that
# admits this group admits every node. Rules are inline: Ray's traffic uses `self`, which checkov
# reads (it takes a rule resource's referenced_security_group_id for an open rule).

data "aws_vpc" "selected" {
  id      = var.vpc_id
  default = var.vpc_id == null ? true : null
}

locals {
  vpc_cidr_blocks       = [data.aws_vpc.selected.cidr_block]
  database_cidr_blocks  = length(var.database_cidr_blocks) > 0 ? var.database_cidr_blocks : local.vpc_cidr_blocks
  service_cidr_blocks   = length(var.service_cidr_blocks) > 0 ? var.service_cidr_blocks : local.vpc_cidr_blocks
  service_ingress_cidrs = length(var.service_ingress_cidrs) > 0 ? var.service_ingress_cidrs : local.vpc_cidr_blocks

  # Ray's GCS (6379), object manager (8076), raylets, workers (10002-19999), dashboard agents and the
  # autoscaler's SSH to workers all run between nodes; Ray documents no narrower set.
  ray_port_range = { from = 0, to = 65535 }
  service_port   = 8000
}

resource "aws_security_group" "this" {
  name        = "${var.project_name}-ray-node"
  description = "Stock Mind Ray nodes: SSH from operators, Ray between nodes, search service; out to AWS APIs, PostgreSQL"
  vpc_id      = data.aws_vpc.selected.id

  # --- Inbound ---

  ingress {
    description = "SSH for ray up / ray attach from the operators' range"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.ssh_ingress_cidrs
  }

  ingress {
    description = "Ray between cluster nodes (GCS, object transfer, workers, autoscaler SSH)"
    from_port   = local.ray_port_range.from
    to_port     = local.ray_port_range.to
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "Search service (Ray Serve proxy on every node, stockmind/service/serve.yaml)"
    from_port   = local.service_port
    to_port     = local.service_port
    protocol    = "tcp"
    cidr_blocks = local.service_ingress_cidrs
  }

  dynamic "ingress" {
    for_each = var.service_ingress_security_group_id == null ? [] : [var.service_ingress_security_group_id]

    content {
      description     = "Search service from the load balancer's security group"
      from_port       = local.service_port
      to_port         = local.service_port
      protocol        = "tcp"
      security_groups = [ingress.value]
    }
  }

  # --- Outbound ---

  # S3, SQS, Secrets Manager and CloudWatch are public regional endpoints unless the VPC has
  # interface endpoints; `ray up`'s setup also fetches uv, Python and the pinned wheels over HTTPS.
  egress {
    description = "HTTPS to AWS APIs (S3, SQS, Secrets Manager, CloudWatch Logs) and package indexes"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "Embedding/search service (EMBEDDING_SERVICE_URL)"
    from_port   = local.service_port
    to_port     = local.service_port
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

  egress {
    description = "Ray between cluster nodes (GCS, object transfer, workers, autoscaler SSH)"
    from_port   = local.ray_port_range.from
    to_port     = local.ray_port_range.to
    protocol    = "tcp"
    self        = true
  }

  lifecycle {
    create_before_destroy = true
  }
}
