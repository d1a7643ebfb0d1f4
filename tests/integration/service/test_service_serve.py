"""The same app on Ray Serve (the cluster deployment), on the test session's local Ray head."""

import httpx
import pytest

from stockmind.local.ports import LOOPBACK, free_port
from tests.integration.service.support import owned_by, result_keys

pytestmark = pytest.mark.slow


def test_the_serve_deployment_answers_searches_like_the_local_service(service, ray_cluster):
    from ray import serve

    from stockmind.ray_env import forwarded_env
    from stockmind.service.serve import APP_NAME, build

    port = free_port()
    serve.start(http_options={"host": LOOPBACK, "port": port})
    try:
        # Small CPU share: the test machine has 2 CPUs and the Ray head also runs Serve's proxy/controller.
        app = build(service.settings, replicas=1, num_gpus=0, num_cpus=0.5,
                    env=forwarded_env(service.env, service.settings))
        serve.run(app, name=APP_NAME, route_prefix="/")  # returns once the replica is up
        base = f"http://{LOOPBACK}:{port}"
        with httpx.Client(base_url=base, timeout=60) as api:
            assert api.get("/readyz").json()["status"] == "ready"
            response = api.get("/v1/search", params={"q": "a red circle", "k": 3},
                               headers={"Authorization": f"Bearer {service.tokens['globex']}"})
            unauthorised = api.get("/v1/search", params={"q": "a red circle"})
        keys = result_keys(response)
        assert owned_by("globex", keys) and "red-circle" in keys[0]
        assert unauthorised.status_code == 401 and unauthorised.json()["error"]["code"] == "unauthorized"
    finally:
        serve.shutdown()
