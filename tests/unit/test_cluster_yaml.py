"""cluster.yaml passes Ray's own schema, puts every node type in the Terraform security group with a
Terraform instance profile (filled from `terraform output -json`, never by hand), asks for a GPU per
embedder and keeps the ingestor on the head, and keeps every address a setting (nothing binds to all
interfaces)."""

import copy
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from stockmind.config import Settings
from tests.unit.terraform_iac import attr, terraform_module

REPO = Path(__file__).resolve().parents[2]
CLUSTER_YAML = REPO / "cluster.yaml"
NODE_ENV = ["SQS_QUEUE_URL", "S3_BUCKET_NAME", "AWS_REGION", "DATABASE_URL", "STOCKMIND_DLQ_URL",
            "STOCKMIND_DATABASE_SECRET_ARN"]
GPU_FAMILIES = re.compile(r"^(g[4-6][a-z]*|p[3-5][a-z]*)\.")

_spec = importlib.util.spec_from_file_location("render_cluster_yaml", REPO / "scripts" / "render_cluster_yaml.py")
render_cluster_yaml = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_cluster_yaml)

OUTPUTS = {
    "aws_region": {"value": "eu-west-1", "sensitive": False},
    "security_group_id": {"value": "sg-0123456789abcdef0", "sensitive": False},
    "head_instance_profile_name": {"value": "acme-ray-head", "sensitive": False},
    "worker_instance_profile_name": {"value": "acme-media-worker", "sensitive": False},
    "ray_node_launch_template_name": {"value": "acme-ray-node", "sensitive": False},
}


def validated(config: dict) -> dict:
    config = prepare_config(copy.deepcopy(config))
    validate_config(config)
    return config


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.fixture(scope="module")
def cluster(raw):
    return validated(raw)


@pytest.fixture(scope="module")
def rendered(raw):
    return validated(render_cluster_yaml.render(raw, OUTPUTS))


def workers_of(config):
    return {name: t for name, t in config["available_node_types"].items() if name != config["head_node_type"]}


def start_env(command: str) -> dict[str, str]:
    """The variables a start command exports after sourcing ~/stockmind.env."""
    words = shlex.split(command.split("&& ulimit")[0])
    return dict(w.split("=", 1) for w in words[words.index("export") + 1:])


def test_head_node_is_cpu_only_and_carries_the_ingestor_resource(cluster):
    head = cluster["available_node_types"][cluster["head_node_type"]]
    assert not GPU_FAMILIES.match(head["node_config"]["InstanceType"])
    assert "GPU" not in head["resources"]
    assert head["resources"] == {"stockmind_head": 1}


def test_every_worker_type_is_a_current_gpu_instance_and_requests_gpus(cluster):
    workers = workers_of(cluster)
    assert workers
    for name, node_type in workers.items():
        assert re.match(r"^g[56]\.", node_type["node_config"]["InstanceType"]), name
        assert node_type["resources"]["GPU"] >= 1, name
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"], name


def test_streaming_keeps_one_gpu_worker_up(cluster):
    assert sum(t["min_workers"] for t in workers_of(cluster).values()) >= 1


def test_every_node_type_gets_the_terraform_group_profile_and_template(rendered):
    head_type = rendered["head_node_type"]
    for name, node_type in rendered["available_node_types"].items():
        config = node_type["node_config"]
        profile = "acme-ray-head" if name == head_type else "acme-media-worker"
        assert config["IamInstanceProfile"] == {"Name": profile}, name
        assert config["SecurityGroupIds"] == ["sg-0123456789abcdef0"], name
        assert config["LaunchTemplate"]["LaunchTemplateName"] == "acme-ray-node", name
    assert rendered["provider"]["region"] == "eu-west-1"
    assert render_cluster_yaml.PLACEHOLDER not in yaml.safe_dump(rendered)


def test_every_value_filled_in_is_a_terraform_output(raw):
    outputs = {name for _, block in terraform_module().blocks("output") for name in block}
    assert render_cluster_yaml.placeholders(raw) <= outputs
    assert "head_instance_profile_name" in render_cluster_yaml.placeholders(raw)


def test_terraform_defaults_name_what_cluster_yaml_expects():
    tf = terraform_module()
    project = tf.default("project_name")
    profile = attr(tf.resource("aws_iam_instance_profile", "this"), "name").replace("${var.project_name}", project)
    assert profile == "stock-mind-media-worker"
    assert attr(tf.resource("aws_launch_template", "ray_node"), "vpc_security_group_ids") == [
        "${aws_security_group.this.id}"]


def test_render_refuses_a_missing_or_sensitive_output(raw):
    with pytest.raises(ValueError, match="security_group_id"):
        render_cluster_yaml.render(raw, {k: v for k, v in OUTPUTS.items() if k != "security_group_id"})
    leaky = {**OUTPUTS, "aws_region": {"value": "eu-west-1", "sensitive": True}}
    with pytest.raises(ValueError, match="sensitive"):
        render_cluster_yaml.render(raw, leaky)


def test_render_writes_the_copy_that_ray_up_reads(tmp_path):
    outputs, out = tmp_path / "outputs.json", tmp_path / "cluster.yaml"
    outputs.write_text(json.dumps(OUTPUTS))
    args = render_cluster_yaml.parse_args(["--outputs", str(outputs), "--out", str(out)])
    assert render_cluster_yaml.main(args) == 0
    validated(yaml.safe_load(out.read_text()))
    assert "sg-0123456789abcdef0" in out.read_text()


def test_nodes_ask_for_a_gpu_per_embedder_and_put_the_ingestor_on_the_head(cluster):
    head_resources = cluster["available_node_types"][cluster["head_node_type"]]["resources"]
    for command in [cluster["head_start_ray_commands"][-1], cluster["worker_start_ray_commands"][-1]]:
        settings = Settings.from_env(start_env(command))
        assert settings.embedder_num_gpus == 1
        assert settings.ingestor_resource in head_resources


def test_setup_installs_the_pinned_requirements_and_the_package(cluster):
    setup = "\n".join(cluster["setup_commands"])
    assert "-r ~/stockmind/requirements.txt" in setup
    assert "--no-deps -e ~/stockmind" in setup
    assert cluster["file_mounts"]["~/stockmind"] == "."


def test_nodes_start_with_the_environment_and_the_secret_arn_not_a_password(cluster):
    assert cluster["file_mounts"]["~/stockmind.env"] == ".stockmind/cluster.env"
    check = cluster["setup_commands"][-1]
    assert all(name in check for name in NODE_ENV)
    assert "EMBEDDING_SERVICE_URL" not in check, "no node reads it"
    for command in cluster["head_start_ray_commands"][1:] + cluster["worker_start_ray_commands"][1:]:
        assert command.startswith("set -a && . ~/stockmind.env && set +a")


def test_nothing_binds_to_all_interfaces(cluster):
    assert "0.0.0.0" not in CLUSTER_YAML.read_text()
    head_start = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
    assert "RAY_AUTH_MODE=token" in head_start
