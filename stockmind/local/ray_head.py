"""A Ray head node on loopback, started with `ray start --head` so that `ray job submit` works.

Ray binds to the network card unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (`_node_ip_address` alone is
rewritten to the card's address);
every Ray process shares the process group of the `ray start` call, which is how `down` stops exactly
this head and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stockmind.local.ports import LOOPBACK, free_port, group_is_alive, stop_process_group

log = logging.getLogger(__name__)

RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    # The dashboard's job API is reachable on loopback only; token auth would need the client to
    # find ~/.ray/auth_token, which a fresh CI shell may not share with the head.
    "RAY_AUTH_MODE": "disabled",
}


@dataclass(frozen=True)
class RayHead:
    gcs_port: int
    dashboard_port: int
    pgid: int
    temp_dir: str

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{LOOPBACK}:{self.dashboard_port}"

    @classmethod
    def start(cls, num_cpus: int, log_path: Path, attempts: int = 3) -> RayHead:
        """Start a head; retried because `ray start` gives the raylet a fixed 30 s to register with
        the GCS, which a loaded 2-core machine can miss ("The current node timed out during startup")."""
        for attempt in range(1, attempts + 1):
            head, returncode = cls._start_once(num_cpus, log_path)
            if returncode == 0:
                return head
            head.stop()
            log.warning("`ray start --head` failed (%s), attempt %d of %d; see %s",
                        returncode, attempt, attempts, log_path)
        raise RuntimeError(f"`ray start --head` failed {attempts} times; see {log_path}")

    @classmethod
    def _start_once(cls, num_cpus: int, log_path: Path) -> tuple[RayHead, int]:
        gcs_port, dashboard_port = free_port(), free_port()
        # Every port Ray would otherwise take at a fixed default (the agent's 52365, the client
        # server's 10001, ...) is chosen free, so a test session, the demo and a benchmark can each
        # run a head on one machine; a clash leaves the job agent without HTTP and jobs unsubmittable.
        own_ports = {
            flag: str(free_port())
            for flag in ("--ray-client-server-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                         "--runtime-env-agent-port", "--metrics-export-port", "--node-manager-port",
                         "--object-manager-port")
        }
        # Short path: Ray's Unix sockets live below it and must stay under the 107-byte limit.
        temp_dir = f"/tmp/stockmind-ray-{gcs_port}"
        ray = Path(sys.executable).with_name("ray")
        command = [
            str(ray), "start", "--head", "--node-ip-address", LOOPBACK, "--port", str(gcs_port),
            "--dashboard-host", LOOPBACK, "--dashboard-port", str(dashboard_port),
            "--num-cpus", str(num_cpus), "--temp-dir", temp_dir, "--disable-usage-stats",
            *(item for pair in own_ports.items() for item in pair),
        ]
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                command, env=_head_environment(), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            returncode = process.wait(timeout=300)
        return cls(gcs_port=gcs_port, dashboard_port=dashboard_port, pgid=process.pid, temp_dir=temp_dir), returncode

    def is_running(self) -> bool:
        return group_is_alive(self.pgid)

    def stop(self) -> None:
        stop_process_group(self.pgid, timeout_s=15)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _head_environment() -> dict[str, str]:
    # A job's `python` (`ray job submit ... -- python jobs/stream.py`) is looked up on the head's PATH:
    # put this interpreter's folder first, or a head started without the venv activated runs jobs on
    # the system Python, which has no ray.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    return {**os.environ, **RAY_ENV, "PATH": path}


def submit_job_when_ready(client, timeout_s: float = 180.0, **job) -> str:
    """Submit a Ray job, waiting out the seconds after `ray start` when the head's job agent has not
    registered yet (the dashboard then answers "No available agent to submit job, please try again")."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as error:
            if "No available agent" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(2)
