"""Render terraform/policies/*.json.tftpl with Terraform's own `templatefile()`, offline.

`terraform console` evaluates built-in functions without any provider, so tests see exactly the
policy documents that iam.tf hands to AWS, with their resources filled in (AWS or moto ARNs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from tests.unit.terraform_iac import TERRAFORM_DIR

POLICIES_DIR = TERRAFORM_DIR / "policies"
DEFAULT_TERRAFORM = "/usr/local/bin/terraform"


def terraform_binary() -> str:
    wanted = os.environ.get("STOCKMIND_TERRAFORM", DEFAULT_TERRAFORM)
    found = shutil.which(wanted)
    if found is None:
        raise RuntimeError(f"the terraform binary is missing (looked for {wanted}; set STOCKMIND_TERRAFORM): "
                           "the IAM tests render terraform/policies/ with its templatefile() and cannot run without it")
    return found


def render_policy(name: str, variables: dict) -> dict:
    """`templatefile("policies/<name>.json.tftpl", variables)` as a parsed policy document."""
    template = POLICIES_DIR / f"{name}.json.tftpl"
    # JSON is valid HCL expression syntax; jsonencode(jsondecode()) also proves the result is JSON.
    expression = f"jsonencode(jsondecode(templatefile({json.dumps(str(template))}, {json.dumps(variables)})))"
    with tempfile.TemporaryDirectory() as empty:  # no configuration: console loads nothing but builtins
        done = subprocess.run([terraform_binary(), "console"], input=expression, cwd=empty, capture_output=True,
                              text=True, timeout=120, check=False, env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull})
    if done.returncode != 0:
        raise RuntimeError(f"terraform console could not render {template.name}: {done.stderr.strip()}")
    return json.loads(json.loads(done.stdout))


@dataclass(frozen=True)
class PolicyResources:
    """The ARNs iam.tf passes to the templates."""

    bucket_arn: str
    queue_arn: str
    dlq_arn: str
    log_group_arns: tuple[str, ...]
    worker_role_arn: str
    launch_template_arn: str
    partition: str = "aws"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    media_prefix: str = "clients/"
    database_secret_arn: str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stock-mind/database-AbCdEf"
    cluster_name: str = "stockmind"

    def worker_policy(self) -> dict:
        return render_policy("worker", {
            "bucket_arn": self.bucket_arn, "media_prefix": self.media_prefix, "queue_arn": self.queue_arn,
            "dlq_arn": self.dlq_arn, "log_group_arns": list(self.log_group_arns),
            "database_secret_arn": self.database_secret_arn,
        })

    def head_policy(self) -> dict:
        return render_policy("head", {
            "partition": self.partition, "region": self.region,
            "ec2_arn": f"arn:{self.partition}:ec2:{self.region}:{self.account_id}",
            "launch_template_arn": self.launch_template_arn, "cluster_name": self.cluster_name,
            "worker_role_arn": self.worker_role_arn,
        })


def granted(policy: dict) -> set[tuple[str, str]]:
    """{(action, resource)} of every Allow statement."""
    pairs = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions, resources = statement["Action"], statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                pairs.add((action, resource))
    return pairs
