"""`make demo`: the main job end to end on the embedded local stack.

local stack up → a synthetic catalogue for two tenants uploaded to S3 (events queue up in SQS) →
the streaming job submitted to the local Ray head with `ray job submit`'s API ingests it →
searches by text, by video moment and by image print their results → an API key for the web page.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from pathlib import Path

import boto3
from ray.job_submission import JobStatus, JobSubmissionClient

from stockmind.config import Settings
from stockmind.dev.sample_catalogue import upload_catalogue
from stockmind.dev.synthetic import query_caption, render
from stockmind.local.ray_head import submit_job_when_ready
from stockmind.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
CLIENTS = ("acme-outfitters", "globex-home")
IMAGES_PER_CLIENT = 24
JOB_TIMEOUT_S = 900


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=IMAGES_PER_CLIENT, help="photos per client")
    parser.add_argument("--serve", action="store_true", help="then serve the web page until Ctrl-C")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    step("bringing the local stack up")
    stack = LocalStack.up()
    os.environ.update(stack.env)
    print(f"  PostgreSQL {stack.database_url}\n  S3/SQS {stack.endpoint_url}\n  Ray {stack.ray.dashboard_url}")

    step(f"uploading a synthetic catalogue for {', '.join(CLIENTS)}")
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    uploads = {client: upload_catalogue(s3, stack.bucket, client, args.images, seed=i)
               for i, client in enumerate(CLIENTS)}
    for client, media in uploads.items():
        print(f"  {client}: {len(media)} objects, e.g. {media[0].key}")
    print(f"  messages queued: ~{queue_depth(sqs, stack.queue_url)}")

    step("ingesting with the streaming job (ray job submit → jobs/stream.py)")
    if not run_stream_job(stack):
        return 1

    step("searching")
    show_searches(uploads)
    key = mint_key(stack.database_url, CLIENTS[0])
    step("the web page")
    print(f"  source {stack.env_file} && stockmind serve   →   http://127.0.0.1:{stack.service_port}/")
    print(f"  API key for {CLIENTS[0]} (shown once): {key}")
    if args.serve:
        from stockmind.cli import main as stockmind

        return stockmind(["serve"])
    return 0


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def queue_depth(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def run_stream_job(stack: LocalStack) -> bool:
    """Submit the always-on job with an idle exit, so the demo ends once the queue is drained."""
    client = JobSubmissionClient(stack.ray.dashboard_url)
    job_id = submit_job_when_ready(
        client,
        entrypoint=f"{sys.executable} {REPO / 'jobs' / 'stream.py'} --idle-exit-s 10",
        runtime_env={"env_vars": stack.env},
    )
    print(f"  job {job_id} submitted")
    deadline = time.monotonic() + JOB_TIMEOUT_S
    status = client.get_job_status(job_id)
    while status not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
        if time.monotonic() > deadline:
            client.stop_job(job_id)
            print(f"  job {job_id} did not finish within {JOB_TIMEOUT_S} s; stopped")
            return False
        time.sleep(2)
        status = client.get_job_status(job_id)
    summary = [line for line in client.get_job_logs(job_id).splitlines() if "stream finished" in line]
    print(f"  job {status}: {summary[-1].split('stream finished: ')[-1] if summary else '(no summary)'}")
    if status != JobStatus.SUCCEEDED:
        print(client.get_job_logs(job_id)[-4000:])
    return status == JobStatus.SUCCEEDED


def show_searches(uploads) -> None:
    from stockmind.service.search import Filters, Searcher
    from stockmind.store import connect

    settings = Settings.from_env(require=["DATABASE_URL"])
    searcher = Searcher.from_settings(settings)
    with connect(settings.database_url) as conn:
        for client, media in uploads.items():
            item = media[0].items[0]
            text = query_caption(item.color, item.shape)
            print_results(f'{client}: "{text}"', searcher.by_text(conn, client, text, Filters(k=5)))
        video = next(m for m in uploads[CLIENTS[0]] if m.media_type == "video")
        moment = video.items[2]
        text = query_caption(moment.color, moment.shape)
        print_results(f'{CLIENTS[0]}: "{text}" (shown at 2 s in {video.key.rsplit("/", 1)[-1]})',
                      searcher.by_text(conn, CLIENTS[0], text, Filters(k=3, media_type="video")))
        photo = io.BytesIO()
        render(media[0].items[0], size=(800, 600), seed=999).save(photo, format="JPEG")
        print_results(f"{CLIENTS[1]}: by image (a new photo of {media[0].items[0].caption})",
                      searcher.by_image(conn, CLIENTS[1], photo.getvalue(), Filters(k=5)))


def print_results(title: str, results) -> None:
    print(f"  {title}")
    for rank, result in enumerate(results, 1):
        moment = f" @ {result.timestamp_s:.1f} s" if result.timestamp_s is not None else ""
        print(f"    {rank}. {result.score:.3f}  {result.key}{moment}")
    if not results:
        print("    (no results)")


def mint_key(database_url: str, client_id: str) -> str:
    from stockmind.service.api_keys import create_key
    from stockmind.store import connect

    with connect(database_url) as conn:
        minted = create_key(conn, client_id, label="demo")
        conn.commit()
    return minted.token


if __name__ == "__main__":
    sys.exit(main(parse_args()))
