"""cluster.yaml passes Ray's own schema, runs GPU workers with the Terraform worker profile, and
keeps every address a setting (nothing binds to all interfaces)."""

import re
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.unit.terraform_iac import attr, terraform_module

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"
SEED_WORKER_ENV = ["SQS_QUEUE_URL", "S3_BUCKET_NAME", "AWS_REGION", "DATABASE_URL", "EMBEDDING_SERVICE_URL"]
GPU_FAMILIES = re.compile(r"^(g[4-6][a-z]*|p[3-5][a-z]*)\.")


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.fixture(scope="module")
def cluster(raw):
    config = prepare_config(raw)
    validate_config(config)
    return config


@pytest.fixture(scope="module")
def workers(cluster):
    return {name: t for name, t in cluster["available_node_types"].items() if name != cluster["head_node_type"]}


def test_head_node_is_cpu_only(cluster):
    head = cluster["available_node_types"][cluster["head_node_type"]]
    assert not GPU_FAMILIES.match(head["node_config"]["InstanceType"])
    assert "GPU" not in head["resources"]
    assert "IamInstanceProfile" not in head["node_config"], "the head keeps the launcher's own role"


def test_every_worker_type_is_a_current_gpu_instance_and_requests_gpus(workers):
    assert workers
    for name, node_type in workers.items():
        assert re.match(r"^g[56]\.", node_type["node_config"]["InstanceType"]), name
        assert node_type["resources"]["GPU"] >= 1, name
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"], name


def test_streaming_keeps_one_gpu_worker_up(workers):
    assert sum(t["min_workers"] for t in workers.values()) >= 1


def test_workers_use_the_terraform_instance_profile_and_launch_template(workers):
    tf = terraform_module()
    project = tf.default("project_name")
    profile = attr(tf.resource("aws_iam_instance_profile", "this"), "name").replace("${var.project_name}", project)
    template = attr(tf.resource("aws_launch_template", "ray_node"), "name").replace("${var.project_name}", project)
    for node_type in workers.values():
        assert node_type["node_config"]["IamInstanceProfile"] == {"Name": profile}
        assert node_type["node_config"]["LaunchTemplate"]["LaunchTemplateName"] == template


def test_region_is_the_terraform_region(raw):
    assert raw["provider"]["type"] == "aws"
    assert raw["provider"]["region"] == terraform_module().default("aws_region")


def test_setup_installs_the_pinned_requirements_and_the_package(cluster):
    setup = "\n".join(cluster["setup_commands"])
    assert "-r ~/stockmind/requirements.txt" in setup
    assert "--no-deps -e ~/stockmind" in setup
    assert cluster["file_mounts"]["~/stockmind"] == "."


def test_nodes_start_with_the_seeds_worker_environment(cluster):
    assert cluster["file_mounts"]["~/stockmind.env"] == ".stockmind/cluster.env"
    check = cluster["setup_commands"][-1]
    assert all(name in check for name in SEED_WORKER_ENV)
    for command in cluster["head_start_ray_commands"][1:] + cluster["worker_start_ray_commands"][1:]:
        assert command.startswith("set -a && . ~/stockmind.env && set +a")


def test_nothing_binds_to_all_interfaces(cluster):
    assert "0.0.0.0" not in CLUSTER_YAML.read_text()
    head_start = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
    assert "RAY_AUTH_MODE=token" in head_start
