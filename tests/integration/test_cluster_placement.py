"""On a two-node Ray cluster shaped like cluster.yaml's (a CPU head with the ingestor's custom
resource, a worker declaring one GPU), the nodes' own settings put each embedder actor on the GPU
node and the stream's ingestor on the head.

Both nodes run on this machine (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1, every port chosen free, as
stockmind/local/ray_head.py does); the worker declares a GPU it does not have, so torch runs on CPU.
The driver runs in a subprocess: this test session may already be connected to the stack's head.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stockmind.embed.models import SMALL_CLIP
from stockmind.local.ports import LOOPBACK, free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
NODE_PORT_FLAGS = ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
                   "--metrics-export-port", "--node-manager-port", "--object-manager-port")

DRIVER = """
import json, sys
import ray
from ray.util.state import list_actors
from stockmind.config import Settings
from stockmind.stream.embedders import EmbedderPool
from stockmind.stream.pipeline import ingestor_placement

ray.init(address=sys.argv[1], logging_level="WARNING", log_to_driver=False)
settings = Settings.from_env()

class Probe:
    def node(self):
        return ray.get_runtime_context().get_node_id()

ingestor = ray.remote(Probe).options(**ingestor_placement(settings)).remote()
pool = EmbedderPool.from_settings(settings)
alive = [("class_name", "=", "EmbedderActor"), ("state", "=", "ALIVE")]
embedders = [a.node_id for a in list_actors(address=sys.argv[2], filters=alive)]
nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
print(json.dumps({"ingestor": ray.get(ingestor.node.remote()), "embedders": embedders, "nodes": nodes}))
pool.close()
"""


def cluster_settings() -> tuple[dict[str, float], dict[str, str]]:
    """The head's declared resources and the settings the nodes export, both read from cluster.yaml."""
    config = yaml.safe_load((REPO / "cluster.yaml").read_text())
    head = config["available_node_types"][config["head_node_type"]]["resources"]
    words = shlex.split(config["worker_start_ray_commands"][-1].split("&& ulimit")[0])
    exported = dict(w.split("=", 1) for w in words[words.index("export") + 1:] if w.startswith("STOCKMIND_"))
    return head, exported


def ray_start(*args: str, temp_dir: str, groups: list[int]) -> None:
    """`ray start` in its own process group, which every Ray process of that node shares: stopping
    the group stops this node and nothing else on the machine."""
    ports = [item for flag in NODE_PORT_FLAGS for item in (flag, str(free_port()))]
    command = [str(RAY), "start", "--node-ip-address", LOOPBACK, "--disable-usage-stats", "--temp-dir", temp_dir,
               *ports, *args]
    log = Path(f"{temp_dir}-start.log")  # a file, not a pipe: Ray's daemons outlive `ray start`
    for _ in range(3):  # the raylet has a fixed 30 s to register: a loaded machine can miss it
        with log.open("ab") as out:
            process = subprocess.Popen(command, env={**os.environ, **RAY_ENV}, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        groups.append(process.pid)
        if process.wait(timeout=300) == 0:
            return
        stop_process_group(groups.pop(), timeout_s=15)
    raise RuntimeError(f"`{shlex.join(command)}` failed 3 times; see {log}:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def two_nodes():
    head_resources, _ = cluster_settings()
    gcs, dashboard = free_port(), free_port()
    temp_dir, groups = f"/tmp/stockmind-ray2-{gcs}", []
    try:
        ray_start("--head", "--port", str(gcs), "--num-cpus", "1", "--resources", json.dumps(head_resources),
                  "--dashboard-host", LOOPBACK, "--dashboard-port", str(dashboard),
                  "--ray-client-server-port", str(free_port()), temp_dir=temp_dir, groups=groups)
        ray_start("--address", f"{LOOPBACK}:{gcs}", "--num-cpus", "2", "--num-gpus", "1", temp_dir=temp_dir,
                  groups=groups)
        yield f"{LOOPBACK}:{gcs}", f"http://{LOOPBACK}:{dashboard}"
    finally:
        for group in reversed(groups):
            stop_process_group(group, timeout_s=15)
        shutil.rmtree(temp_dir, ignore_errors=True)
        Path(f"{temp_dir}-start.log").unlink(missing_ok=True)


def test_embedders_land_on_the_gpu_node_and_the_ingestor_on_the_head(two_nodes):
    _, exported = cluster_settings()
    env = {**os.environ, **RAY_ENV, **exported, "STOCKMIND_MODEL": SMALL_CLIP, "STOCKMIND_EMBEDDER_POOL_SIZE": "1",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DRIVER, *two_nodes], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    placed = json.loads(done.stdout.strip().splitlines()[-1])
    (gpu_node,) = [node for node, resources in placed["nodes"].items() if resources.get("GPU")]
    (head_node,) = [node for node, resources in placed["nodes"].items() if "stockmind_head" in resources]
    assert placed["embedders"] == [gpu_node]
    assert placed["ingestor"] == head_node
