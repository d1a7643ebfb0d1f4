# ---------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------
# Terraform >= 1.9 so that validation blocks may use functions over the whole variable value;
# AWS provider 5.x/6.x for the split S3 resources (aws_s3_bucket_* companions) and
# aws_vpc_security_group_egress_rule.

terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}
