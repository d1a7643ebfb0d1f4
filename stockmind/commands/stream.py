"""`stockmind stream`: run the streaming ingestion job in this process (the driver) on Ray."""

from __future__ import annotations

import argparse

from stockmind.stream.job import add_stream_arguments, run_job


def register(commands: argparse._SubParsersAction) -> None:
    stream = commands.add_parser("stream", help="streaming ingestion: SQS → CLIP embedder actors → pgvector")
    add_stream_arguments(stream)
    stream.set_defaults(run=run_job)
