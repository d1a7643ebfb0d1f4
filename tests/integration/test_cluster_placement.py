"""On a two-node Ray cluster shaped like cluster.yaml's (a CPU head with the ingestor's custom
resource, a worker declaring one GPU), the nodes' own settings put each embedder actor on the GPU
node and the stream's ingestor on the head.

Both nodes run on this machine (stockmind/local/two_node_cluster.py); the worker declares a GPU it does
not have, so torch runs on CPU.
The driver runs in a subprocess: this test session may already be connected to the stack's head.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stockmind.embed.models import SMALL_CLIP
from stockmind.local.two_node_cluster import TWO_NODE_RAY_ENV, two_node_cluster

REPO = Path(__file__).resolve().parents[2]

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


@pytest.fixture(scope="module")
def two_nodes():
    head_resources, _ = cluster_settings()
    with two_node_cluster(("--num-cpus", "1", "--resources", json.dumps(head_resources)),
                          ("--num-cpus", "2", "--num-gpus", "1")) as addresses:
        yield addresses


def test_embedders_land_on_the_gpu_node_and_the_ingestor_on_the_head(two_nodes):
    _, exported = cluster_settings()
    env = {**os.environ, **TWO_NODE_RAY_ENV, **exported, "STOCKMIND_MODEL": SMALL_CLIP,
           "STOCKMIND_EMBEDDER_POOL_SIZE": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DRIVER, *two_nodes], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    placed = json.loads(done.stdout.strip().splitlines()[-1])
    (gpu_node,) = [node for node, resources in placed["nodes"].items() if resources.get("GPU")]
    (head_node,) = [node for node, resources in placed["nodes"].items() if "stockmind_head" in resources]
    assert placed["embedders"] == [gpu_node]
    assert placed["ingestor"] == head_node
