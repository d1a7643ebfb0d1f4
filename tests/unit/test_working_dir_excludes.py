"""`ray job submit --working-dir .` leaves Terraform state, plans, variables and provider caches (and
.stockmind/) behind: Ray packs the directory through the repository's .gitignore, which lists them."""

import shutil
import subprocess
import zipfile
from pathlib import Path

from ray._private.runtime_env.packaging import create_package

REPO = Path(__file__).resolve().parents[2]
SECRET_BEARING = [
    "terraform/terraform.tfvars", "terraform/terraform.tfstate", "terraform/terraform.tfstate.backup",
    "terraform/.terraform/providers/aws.bin", "terraform/plan.tfplan", "terraform/prod.auto.tfvars",
    ".stockmind/cluster.env", ".stockmind/cluster.yaml",
]
KEPT = ["terraform/terraform.tfvars.example", "terraform/examples/minimal.tfvars", "terraform/network.tf"]


def test_git_ignores_terraform_state_plans_and_variables_but_not_the_examples():
    ignored = subprocess.run(["git", "check-ignore", *SECRET_BEARING, *KEPT], cwd=REPO, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(SECRET_BEARING)


def test_rays_working_dir_package_leaves_them_out(tmp_path):
    root = tmp_path / "checkout"
    for name in SECRET_BEARING + KEPT:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    package = tmp_path / "working_dir.zip"
    create_package(str(root), package, include_gitignore=True)
    packed = {name for name in zipfile.ZipFile(package).namelist() if not name.endswith("/")}
    assert packed == set(KEPT) | {".gitignore"}
