"""The shipped Ray Serve config is valid for Serve's own schema and names a builder that exists."""

import importlib
from pathlib import Path

import pytest
import yaml

import stockmind.service

CONFIG = Path(stockmind.service.__file__).with_name("serve.yaml")


# Ray is imported inside the tests: it reads its loopback switch at import (FACTS), and the session's
# fixtures set that variable only after collection.


def test_the_serve_config_passes_serves_schema():
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    assert [app.name for app in schema.applications] == ["stockmind-search"]


def test_the_config_names_the_app_builder_with_arguments_it_accepts():
    app = yaml.safe_load(CONFIG.read_text())["applications"][0]
    module, name = app["import_path"].split(":")
    builder = getattr(importlib.import_module(module), name)
    assert builder.__name__ == "app_builder"
    assert set(app["args"]) <= {"num_replicas", "num_gpus", "num_cpus"}


def test_the_builder_applies_replicas_and_gpus_and_refuses_unknown_arguments():
    from ray.serve import Application

    from stockmind.service.serve import app_builder

    app = app_builder({"num_replicas": 3, "num_gpus": 1})
    assert isinstance(app, Application)
    deployment = app._bound_deployment  # Serve has no public accessor for a bound app's options
    assert deployment.num_replicas == 3 and deployment.ray_actor_options["num_gpus"] == 1
    with pytest.raises(ValueError, match="unknown arguments"):
        app_builder({"replicas": 3})
