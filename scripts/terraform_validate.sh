#!/usr/bin/env bash
# Real `terraform init -backend=false && terraform validate` on terraform/, for a machine that has a
# terraform (or OpenTofu) binary and can download the AWS provider. The offline checks in
# tests/unit/test_terraform_*.py cannot type-check resource arguments against the provider schema;
# this does. Set TERRAFORM=tofu to use OpenTofu.
set -euo pipefail
cd "$(dirname "$0")/../terraform"
terraform="${TERRAFORM:-terraform}"
if ! command -v "$terraform" >/dev/null; then
  echo "terraform_validate: no '$terraform' binary on PATH; the offline checks run in the test suite" >&2
  exit 2
fi
# Providers go to a throwaway data directory, not terraform/.terraform/. init records the provider
# versions in terraform/.terraform.lock.hcl: commit that file from a connected machine.
export TF_DATA_DIR="${TF_DATA_DIR:-$(mktemp -d)}"
"$terraform" init -backend=false -input=false
"$terraform" validate
"$terraform" fmt -check -recursive
