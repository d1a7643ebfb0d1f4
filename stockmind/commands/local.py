"""`stockmind local up|down|status|env`: the embedded local stack."""

from __future__ import annotations

import argparse
import json
import os

from stockmind.local.stack import LocalStack, default_state_dir


def register(commands: argparse._SubParsersAction) -> None:
    local = commands.add_parser("local", help="the embedded local stack (PostgreSQL+pgvector, S3/SQS, Ray)")
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")

    up = actions.add_parser("up", help="start (or reuse) every service and write the environment file")
    up.add_argument("--no-ray", action="store_true", help="skip the Ray head (jobs then start Ray in-process)")
    up.add_argument("--ray-cpus", type=int, default=2)
    # argparse converts a string default with `type`, so a malformed variable is a one-line usage error.
    up.add_argument("--service-port", type=int, default=os.environ.get("STOCKMIND_SERVICE_PORT", "8000"),
                    help="port of the search service (default: $STOCKMIND_SERVICE_PORT, else 8000)")
    up.set_defaults(run=_up)

    down = actions.add_parser("down", help="stop exactly what `up` started")
    down.add_argument("--keep-data", action="store_true", help="keep the PostgreSQL data folder")
    down.set_defaults(run=_down)

    actions.add_parser("status", help="which services are running").set_defaults(run=_status)
    env = actions.add_parser("env", help="print the environment file's path")
    env.add_argument("--runtime-env", action="store_true",
                     help="print the environment as a Ray runtime_env JSON, for `ray job submit --runtime-env-json`")
    env.set_defaults(run=_env)


def _up(args: argparse.Namespace) -> int:
    stack = LocalStack.up(with_ray=not args.no_ray, ray_cpus=args.ray_cpus, service_port=args.service_port)
    print(f"local stack up: PostgreSQL {stack.database_url}, S3/SQS {stack.endpoint_url}"
          + (f", Ray {stack.ray.address} (dashboard {stack.ray.dashboard_url})" if stack.ray else ""))
    print(f"environment: source {stack.env_file}")
    return 0


def _down(args: argparse.Namespace) -> int:
    stack = LocalStack.load()
    if stack is None:
        print(f"local stack is not up (no state in {default_state_dir()})")
        return 0
    stack.down(keep_data=args.keep_data)
    print("local stack down")
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = LocalStack.load()
    status = stack.status() if stack else {}
    print(json.dumps(status, indent=2))
    return 0 if status and all(status.values()) else 1


def _env(args: argparse.Namespace) -> int:
    stack = LocalStack.load()
    if stack is None:
        print("local stack is not up: run `stockmind local up`")
        return 1
    # The head was started before the stack's endpoints existed, so jobs get them in their runtime_env.
    print(json.dumps({"env_vars": stack.env}) if args.runtime_env else stack.env_file)
    return 0
