"""Ray's own AWS bootstrap (what `ray up` runs before it launches anything), against a moto server
holding the Terraform topology: every node type of the rendered cluster.yaml keeps the Terraform
security group and instance profile, and Ray creates no group of its own."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import boto3
import pytest
import yaml
from ray.autoscaler._private.aws.config import bootstrap_aws
from ray.autoscaler._private.util import prepare_config, validate_config

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
OPERATORS = "203.0.113.0/24"
VPC_CIDR = "10.0.0.0/16"

_spec = importlib.util.spec_from_file_location("render_cluster_yaml", REPO / "scripts" / "render_cluster_yaml.py")
render_cluster_yaml = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_cluster_yaml)


@pytest.fixture
def aws(own_moto_env, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("HOME", str(tmp_path))  # Ray writes the SSH key it creates to ~/.ssh
    return boto3.client("ec2", region_name=REGION), boto3.client("iam", region_name=REGION)


def terraform_topology(ec2, iam) -> dict:
    """What terraform/ creates for the cluster (network.tf, iam.tf, ray.tf), as `terraform output -json`."""
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    group = ec2.create_security_group(GroupName="stock-mind-ray-node", Description="Stock Mind Ray nodes", VpcId=vpc)
    sg = group["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": OPERATORS}]},
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [{"GroupId": sg}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": VPC_CIDR}]},
    ])
    ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ])
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": VPC_CIDR}]},
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [{"GroupId": sg}]},
    ])
    assume = ('{"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
              '"Action": "sts:AssumeRole"}]}')
    for role in ["stock-mind-media-worker", "stock-mind-ray-head"]:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=assume)
        iam.create_instance_profile(InstanceProfileName=role)
        iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="stock-mind-ray-node", LaunchTemplateData={
        "ImageId": image, "SecurityGroupIds": [sg], "MetadataOptions": {"HttpTokens": "required"}})
    values = {"aws_region": REGION, "security_group_id": sg, "head_instance_profile_name": "stock-mind-ray-head",
              "worker_instance_profile_name": "stock-mind-media-worker",
              "ray_node_launch_template_name": "stock-mind-ray-node"}
    return {"outputs": {k: {"value": v, "sensitive": False} for k, v in values.items()}, "vpc": vpc, "sg": sg,
            "subnet": subnet}


def rendered_cluster(outputs: dict) -> dict:
    config = prepare_config(render_cluster_yaml.render(yaml.safe_load((REPO / "cluster.yaml").read_text()), outputs))
    validate_config(config)
    return config


def open_ingress(ec2, vpc: str | None = None) -> list[tuple[str, int]]:
    """(group, port) of every rule open to the internet, in one VPC or in all of them."""
    filters = [{"Name": "vpc-id", "Values": [vpc]}] if vpc else []
    groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    return [(g["GroupName"], p.get("FromPort", -1)) for g in groups for p in g["IpPermissions"]
            if any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))]


def test_every_node_type_keeps_the_terraform_group_and_profile_and_ray_creates_no_group(aws):
    ec2, iam = aws
    topology = terraform_topology(ec2, iam)
    config = bootstrap_aws(rendered_cluster(topology["outputs"]))
    head_type = config["head_node_type"]
    for name, node_type in config["available_node_types"].items():
        node_config = node_type["node_config"]
        assert node_config["SecurityGroupIds"] == [topology["sg"]], name
        profile = "stock-mind-ray-head" if name == head_type else "stock-mind-media-worker"
        assert node_config["IamInstanceProfile"] == {"Name": profile}, name
        assert node_config["SubnetIds"] == [topology["subnet"]], name
        assert node_config["MetadataOptions"]["HttpTokens"] == "required", name
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [topology["vpc"]]}])["SecurityGroups"]
    assert sorted(g["GroupName"] for g in groups) == ["default", "stock-mind-ray-node"]
    assert open_ingress(ec2, topology["vpc"]) == []
    assert len(iam.list_instance_profiles()["InstanceProfiles"]) == 2, "Ray made no profile of its own"


def test_without_the_group_ray_would_open_ssh_to_the_internet(aws):
    """What the test above guards against: a node type without SecurityGroupIds."""
    ec2, iam = aws
    topology = terraform_topology(ec2, iam)
    config = rendered_cluster(topology["outputs"])
    # The launch template carries the group too; without either, Ray makes its own.
    ec2.create_launch_template(LaunchTemplateName="bare", LaunchTemplateData={
        "ImageId": ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]})
    bare = copy.deepcopy(config)
    for node_type in bare["available_node_types"].values():
        node_type["node_config"].pop("SecurityGroupIds")
        node_type["node_config"]["LaunchTemplate"]["LaunchTemplateName"] = "bare"
    bare["provider"]["security_group"] = {"GroupName": "ray-made"}
    bootstrap_aws(bare)
    assert ("ray-made", 22) in open_ingress(ec2)
