# ---------------------------------------------------------------------------------------------------
# Ray cluster nodes: the launch template that cluster.yaml names
# ---------------------------------------------------------------------------------------------------
# `ray up` merges this template into every node type, so the AMI is looked up here (always the
# current Deep Learning Base AMI of the region) instead of being pasted into cluster.yaml. Instance
# types, instance profiles and the security group are in cluster.yaml too, filled from the outputs
# by scripts/render_cluster_yaml.py; the group is also set here so no node can start without it.

data "aws_ssm_parameter" "ray_node_ami" {
  name = var.ray_node_ami_ssm_parameter
}

resource "aws_launch_template" "ray_node" {
  name        = "${var.project_name}-ray-node"
  description = "Stock Mind Ray head and GPU workers (cluster.yaml)"
  image_id    = data.aws_ssm_parameter.ray_node_ami.insecure_value

  vpc_security_group_ids = [aws_security_group.this.id]

  # IMDSv2 only, one hop: instance credentials are not reachable from containers.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  # The Ubuntu Deep Learning AMIs boot from /dev/sda1.
  block_device_mappings {
    device_name = "/dev/sda1"

    ebs {
      volume_size           = var.ray_node_volume_size_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
}
