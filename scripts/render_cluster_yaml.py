"""Fill cluster.yaml's `terraform-output:NAME` values from `terraform output -json`.

    terraform -chdir=terraform output -json | python scripts/render_cluster_yaml.py
    ray up .stockmind/cluster.yaml

The rendered copy lives in .stockmind/ (git-ignored): it names this deployment's security group,
instance profiles, launch template and region, so nothing in cluster.yaml is edited by hand.
Sensitive outputs are refused: the rendered file is copied to the head node.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER = "terraform-output:"


def placeholders(node) -> set[str]:
    """The output names a configuration refers to."""
    if isinstance(node, dict):
        return set().union(*(placeholders(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(placeholders(v) for v in node))
    if isinstance(node, str) and node.startswith(PLACEHOLDER):
        return {node.removeprefix(PLACEHOLDER)}
    return set()


def render(config: dict, outputs: dict) -> dict:
    """`config` with every placeholder replaced by the output's value; `outputs` is `terraform output -json`."""
    wanted = placeholders(config)
    missing = sorted(wanted - set(outputs))
    if missing:
        raise ValueError(f"terraform output has no {', '.join(missing)}: apply terraform/ first")
    sensitive = sorted(name for name in wanted if outputs[name].get("sensitive"))
    if sensitive:
        raise ValueError(f"refusing sensitive outputs {', '.join(sensitive)}: they would be copied to the nodes")
    return _replace(config, {name: outputs[name]["value"] for name in wanted})


def _replace(node, values: dict):
    if isinstance(node, dict):
        return {k: _replace(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, values) for v in node]
    if isinstance(node, str) and node.startswith(PLACEHOLDER):
        return values[node.removeprefix(PLACEHOLDER)]
    return node


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, help="`terraform output -json` saved to a file (default: stdin)")
    parser.add_argument("--template", type=Path, default=REPO / "cluster.yaml")
    parser.add_argument("--out", type=Path, default=REPO / ".stockmind" / "cluster.yaml")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    outputs = json.loads(args.outputs.read_text() if args.outputs else sys.stdin.read())
    try:
        rendered = render(yaml.safe_load(args.template.read_text()), outputs)
    except ValueError as error:
        print(f"render_cluster_yaml: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Rendered from {args.template.name} by scripts/render_cluster_yaml.py; edit that file, not this one.\n"
    args.out.write_text(header + yaml.safe_dump(rendered, sort_keys=False, width=120))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
