"""What a notebook evaluates: a store and a bucket, from the environment or the embedded local stack.

With DATABASE_URL set (a real deployment, or `source .stockmind/local.env`), the notebooks use it
and boto3's own configuration. Without it they bring up the embedded local stack (no Ray: the
notebooks search and ingest in-process) and export its variables into this process, exactly what
`source .stockmind/local.env` does for a shell.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from stockmind.config import Settings


@dataclass
class Target:
    settings: Settings
    s3: object  # a boto3 S3 client
    local_stack: object | None  # the LocalStack this process brought up or joined, if any

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def bucket(self) -> str:
        return self.settings.s3_bucket_name


def resolve_target(model: str, database_url: str | None = None, state_dir: str | Path | None = None) -> Target:
    """The deployment named by `database_url` or DATABASE_URL, else the local stack in `state_dir`."""
    stack = None
    if not (database_url or os.environ.get("DATABASE_URL")):
        stack, _ = ensure_local_stack(state_dir)
        os.environ.update(stack.env)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    settings = dataclasses.replace(Settings.from_env(require=("DATABASE_URL", "S3_BUCKET_NAME")), model=model)
    import boto3

    return Target(settings, boto3.client("s3", region_name=settings.aws_region), stack)


def ensure_local_stack(state_dir: str | Path | None = None):
    """The local stack in `state_dir` (default: `.stockmind` here), brought up unless it runs; with
    whether it was already running (a shell that starts the notebooks says which it was)."""
    from stockmind.local.stack import LocalStack, default_state_dir

    state_dir = state_dir or default_state_dir()
    running = LocalStack.load(state_dir)
    was_running = bool(running and running.postgres.is_running() and running.moto.is_running())
    # Keep a Ray head that `stockmind local up` started; never start one just for the notebooks.
    stack = LocalStack.up(state_dir, with_ray=bool(running and running.ray))
    return stack, was_running
