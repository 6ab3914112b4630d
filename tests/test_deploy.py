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


def _env(service: dict) -> dict[str, str]:
    """A service's environment as the API would read it: `${VAR:-default}` resolved to its default."""
    import re

    return {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in service["environment"].items()}


def _settings(env: dict[str, str]):
    from qa.config import Settings

    return Settings(_env_file=None, **{k.removeprefix("QA_").lower(): v for k, v in env.items() if k.startswith("QA_")})


def test_compose_has_a_qdrant_profile_the_api_can_switch_to():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    qdrant, api = compose["services"]["qdrant"], compose["services"]["api"]
    assert qdrant["profiles"] == ["qdrant"] and qdrant["image"].startswith("qdrant/qdrant:v")
    assert "6333:6333" in qdrant["ports"] and "6333" in " ".join(qdrant["healthcheck"]["test"])
    storage = {v.split(":")[1]: v.split(":")[0] for v in qdrant["volumes"]}["/qdrant/storage"]
    assert storage in compose["volumes"]
    assert api["environment"]["QA_BACKEND"] == "${QA_BACKEND:-embedded}"
    assert api["depends_on"]["qdrant"] == {"condition": "service_healthy", "required": False}
    settings = _settings({**_env(api), "QA_BACKEND": "qdrant"})
    assert (settings.backend, settings.qdrant_url, settings.qdrant_api_key.get_secret_value()) == \
        ("qdrant", "http://qdrant:6333", "")
    assert _settings(_env(api)).backend == "embedded"  # the default stays the index folder


def test_the_cluster_example_wires_three_nodes_and_the_collections_layout():
    cluster = yaml.safe_load((ROOT / "deploy" / "qdrant-cluster.yml").read_text())
    services = cluster["services"]
    nodes = [name for name in services if name.startswith("qdrant-")]
    assert nodes == ["qdrant-1", "qdrant-2", "qdrant-3"]
    for name in nodes:
        node = services[name]
        assert node["image"].startswith("qdrant/qdrant:v") and node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert node["command"][node["command"].index("--uri") + 1] == f"http://{name}:6335"
        assert ("--bootstrap" in node["command"]) == (name != "qdrant-1")
        if name != "qdrant-1":
            assert node["command"][node["command"].index("--bootstrap") + 1] == "http://qdrant-1:6335"
        assert node["volumes"][0].split(":")[0] in cluster["volumes"]
    api = services["api"]
    env = {k: v for k, v in api["environment"].items() if "${" not in str(v)}
    settings = _settings(env)
    assert settings.backend == "qdrant" and settings.qdrant_url == "http://qdrant-1:6333"
    assert (settings.qdrant_shards, settings.qdrant_replication, settings.qdrant_write_consistency) == (3, 2, 2)
    assert settings.qdrant_replication <= len(nodes) and settings.qdrant_write_consistency <= settings.qdrant_replication
    assert api["environment"]["QA_QDRANT_API_KEY"] == \
        services["qdrant-1"]["environment"]["QDRANT__SERVICE__API_KEY"]
    assert set(api["depends_on"]) == set(nodes)


def test_the_readers_fitted_weights_ship_in_a_non_editable_install():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = data["tool"]["setuptools"]["package-data"]["qa.read"]
    assert "scorer.json" in shipped and (ROOT / "qa" / "read" / "scorer.json").is_file()
