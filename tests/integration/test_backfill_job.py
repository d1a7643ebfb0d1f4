"""The documented `ray job submit ... -- python jobs/backfill.py` against the stack's Ray head."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockmind.ray_env import CREDENTIALS, FORWARDED_ENV
from stockmind.store import connect, count_media
from tests.integration.backfill_media import MODEL, upload_catalogue

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
JOB_TIMEOUT_S = 420


def test_ray_job_submit_runs_the_backfill_on_the_stack_head(aws, local_stack, stack_env, database_url, tmp_path):
    uploaded = upload_catalogue(aws.s3, aws.bucket, "shop-job", images=2, with_video=False)
    job_env = {name: os.environ[name] for name in (*FORWARDED_ENV, *CREDENTIALS, "S3_BUCKET_NAME")
               if os.environ.get(name)}
    job_env["DATABASE_URL"] = database_url
    # The head runs `python` from its own PATH; on a cluster that is the cluster's Python, here the venv's.
    job_env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    report = tmp_path / "failures.jsonl"
    ray = str(Path(sys.executable).with_name("ray"))

    result = subprocess.run(
        [ray, "job", "submit", "--address", stack_env["STOCKMIND_RAY_DASHBOARD_URL"], "--working-dir", ".",
         "--runtime-env-json", json.dumps({"env_vars": job_env}),
         "--", "python", "jobs/backfill.py", "--prefix", "clients/shop-job/", "--model", MODEL,
         "--report", str(report)],
        cwd=REPO, env={**os.environ, "RAY_AUTH_MODE": "disabled"}, capture_output=True, text=True,
        timeout=JOB_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "backfill: listed=2 skipped=0 embedded=2" in result.stdout
    assert report.read_text() == ""
    with connect(database_url) as conn:
        assert count_media(conn, "shop-job") == len(uploaded)
