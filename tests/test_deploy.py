"""The deployment files, checked without a Docker engine: compose names the service, port,
healthcheck and volume; the Dockerfile installs the pinned CPU torch and serves the app."""

import yaml

from tests.helpers import ROOT


def test_compose_declares_the_api_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api = compose["services"]["api"]
    assert api["build"] == "."
    assert "8000:8000" in api["ports"]
    health = " ".join(api["healthcheck"]["test"])
    assert "/readyz" in health
    mounts = {v.split(":")[1]: v.split(":")[0] for v in api["volumes"]}
    assert mounts["/data/index"] in compose["volumes"]
    assert api["environment"]["QA_INDEX_DIR"] == "/data/index"


def test_dockerfile_pins_cpu_torch_and_serves():
    text = (ROOT / "Dockerfile").read_text()
    assert '"torch==2.13.0"' in text and "whl/cpu" in text
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert 'CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text
    for path in ("pyproject.toml", "qa", "api", "seeds"):
        assert f"COPY {path}" in text


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme.split("\n## ")[0]
    assert ci.strip().endswith("make test")
    assert "set -euo pipefail" in ci
