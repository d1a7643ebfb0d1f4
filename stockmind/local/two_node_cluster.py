"""A Ray cluster of two nodes on this machine, for the tests and benchmarks that place actors across nodes.

Both nodes run here (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1, every port chosen free, as
stockmind/local/ray_head.py does), each `ray start` in its own process group, so stopping the
cluster stops these nodes and nothing else on the machine.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from stockmind.local.ports import LOOPBACK, free_port, stop_process_group

RAY = Path(sys.executable).with_name("ray")
# Unlike the stack's single head (ray_head.RAY_ENV), a second node must be allowed to join.
TWO_NODE_RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_AUTH_MODE": "disabled"}
NODE_PORT_FLAGS = ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
                   "--metrics-export-port", "--node-manager-port", "--object-manager-port")


def ray_start(*args: str, temp_dir: str, groups: list[int]) -> None:
    """`ray start` in its own process group, which every Ray process of that node shares: stopping
    the group stops this node and nothing else on the machine."""
    ports = [item for flag in NODE_PORT_FLAGS for item in (flag, str(free_port()))]
    command = [str(RAY), "start", "--node-ip-address", LOOPBACK, "--disable-usage-stats", "--temp-dir", temp_dir,
               *ports, *args]
    log = Path(f"{temp_dir}-start.log")  # a file, not a pipe: Ray's daemons outlive `ray start`
    for _ in range(3):  # the raylet has a fixed 30 s to register: a loaded machine can miss it
        with log.open("ab") as out:
            process = subprocess.Popen(command, env={**os.environ, **TWO_NODE_RAY_ENV}, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        groups.append(process.pid)
        if process.wait(timeout=300) == 0:
            return
        stop_process_group(groups.pop(), timeout_s=15)
    raise RuntimeError(f"`{shlex.join(command)}` failed 3 times; see {log}:\n{log.read_text()[-2000:]}")


@contextmanager
def two_node_cluster(head_args: tuple[str, ...] = (), worker_args: tuple[str, ...] = ()):
    """A head and a worker node; yields (GCS address, dashboard URL) and stops both on the way out."""
    gcs, dashboard = free_port(), free_port()
    temp_dir, groups = f"/tmp/stockmind-ray2-{gcs}", []
    try:
        ray_start("--head", "--port", str(gcs), "--dashboard-host", LOOPBACK, "--dashboard-port", str(dashboard),
                  "--ray-client-server-port", str(free_port()), *head_args, temp_dir=temp_dir, groups=groups)
        ray_start("--address", f"{LOOPBACK}:{gcs}", *worker_args, temp_dir=temp_dir, groups=groups)
        yield f"{LOOPBACK}:{gcs}", f"http://{LOOPBACK}:{dashboard}"
    finally:
        for group in reversed(groups):
            stop_process_group(group, timeout_s=15)
        shutil.rmtree(temp_dir, ignore_errors=True)
        Path(f"{temp_dir}-start.log").unlink(missing_ok=True)
