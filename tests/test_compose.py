"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine.

`docker compose config` validates the file where the Compose plugin is installed;
everywhere, the file (interpolated with .env.example's values) is validated against the
Compose Specification JSON Schema vendored in tests/data/ (see its NOTICE), and the
semantics Compose does not check are checked here: dependencies exist, long-running
services have health checks, no secret is written inline, every variable is documented.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitor.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"

EXPECTED_SERVICES = {
    "elasticsearch", "kibana", "postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
    "airflow-dag-processor", "airflow-triggerer", "earshot-web", "earshot-init",
    "redis", "airflow-worker",  # the `celery` profile
}
ONE_SHOT = {"airflow-init", "earshot-init"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|API_KEY|ENCRYPTIONKEY|_KEY$", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ on every string of the file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op and op.endswith("-"):
            return arg
        raise KeyError(f"{name} is not set ({arg})")

    return VARIABLE.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in strings(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


def test_the_file_validates_against_the_compose_specification_schema():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    resolved = interpolate(compose(), env_example())
    # The file declares draft 2019-09 (by a URI jsonschema does not recognise verbatim): say so explicitly.
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose`, else None."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="docker compose is not installed here; the schema test covers the syntax")
def test_docker_compose_config_accepts_the_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"))
    result = subprocess.run(
        [*_compose_command(), "--env-file", str(env), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_the_stack_has_every_service_and_every_dependency_exists():
    services = compose()["services"]
    assert set(services) == EXPECTED_SERVICES
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert dependency != name, f"{name} depends on itself"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy, which it never reports"
            if condition == "service_completed_successfully":
                assert dependency in ONE_SHOT


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart():
    for name, service in compose()["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name


def test_no_secret_is_written_in_the_file():
    text = COMPOSE.read_text(encoding="utf-8")
    for path, value in strings(compose()):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and "_CMD" not in key:
            assert VARIABLE.fullmatch(value), f"{path} must come from .env as ${{VARIABLE}}, not be written here"
        for embedded in re.findall(r'"password":\s*"([^"]*)"', value):
            assert VARIABLE.fullmatch(embedded), f"{path} embeds a password"
        if "://" in value:
            assert not re.search(r"://[^/\s:@]+:(?!\$\{)[^@\s]+@", value), f"{path} has credentials in a URL"
    assert "change-me" not in text
    # Health checks read passwords inside the container ($$VAR), never interpolated into the config.
    assert "$$ELASTIC_PASSWORD" in text and "${ELASTIC_PASSWORD}\"" not in text


def test_every_variable_is_documented_in_env_example_and_every_documented_one_is_used():
    used = {m["name"] for _, value in strings(compose()) for m in VARIABLE.finditer(value.replace("$$", ""))}
    documented = env_example()
    assert used <= set(documented), f"undocumented: {sorted(used - set(documented))}"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    unused = {name for name in documented if name not in used and f"ARG {name}" not in dockerfile}
    assert not unused, f"documented but never used: {sorted(unused)}"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name in documented:  # each variable (or the small group it belongs to) has a comment above it
        above = next(i for i, line in enumerate(lines) if line.startswith(f"{name}=")) - 1
        while above >= 0 and re.match(r"[A-Z_]+=", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"{name} is not explained in .env.example"


def test_earshot_services_get_the_config_and_the_airflow_connection():
    services = compose()["services"]
    for name in ("earshot-web", "earshot-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert env["EARSHOT_CONFIG"] == "/opt/earshot/deploy/earshot.yaml", name
        assert services[name]["image"] == "earshot:local" and services[name]["build"]["dockerfile"] == "Dockerfile"
    connection = json.loads(interpolate(services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_EARSHOT_ELASTICSEARCH"], {"EARSHOT_ES_PASSWORD": "x"}))
    assert connection["conn_type"] == "elasticsearch" and connection["login"] == "earshot"
    init = (REPO / "deploy" / "init.sh").read_text(encoding="utf-8")
    assert "earshot index setup" in init and "dashboards/import.py" in init and "bootstrap-security" in init
    assert services["earshot-init"]["command"] == ["bash", "/opt/earshot/deploy/init.sh"]
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert services["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"


def test_the_image_installs_earshot_with_elasticsearch_and_the_airflow_provider():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}", dockerfile, re.MULTILINE)
    assert '"/opt/earshot[elasticsearch]"' in dockerfile and "apache-airflow-providers-elasticsearch" in dockerfile
    assert "COPY --chown=airflow:0 dags/ /opt/airflow/dags/" in dockerfile
    assert "EARSHOT_CONFIG=/opt/earshot/deploy/earshot.yaml" in dockerfile
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"apache-airflow==([\d.]+)"', pyproject)[1]
    assert env_example()["AIRFLOW_VERSION"] == pinned and f"AIRFLOW_VERSION={pinned}" in dockerfile
    torch = re.search(r'"torch==([\d.]+)"', pyproject)[1]
    assert f"TORCH_VERSION={torch}" in dockerfile
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".env", ".git", ".venv", "earshot-data"} <= set(ignored)


def _make_env():
    spec = importlib.util.spec_from_file_location("earshot_make_env", REPO / "deploy" / "make-env.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_make_env_fills_every_secret_with_a_fresh_random_value():
    make_env = _make_env()
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    first, second = make_env.render(example), make_env.render(example)
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line and not line.startswith("#"))
    assert "change-me" not in values.values()
    secrets = {k: v for k, v in values.items() if env_example()[k] == "change-me"}
    assert len(secrets) >= 8 and len(set(secrets.values())) == len(secrets)
    assert len(base64.urlsafe_b64decode(values["AIRFLOW_FERNET_KEY"])) == 32
    assert len(values["KIBANA_ENCRYPTION_KEY"]) >= 32
    assert first != second
    interpolate(compose(), values)  # every required variable is set


def test_the_stack_config_is_a_valid_earshot_config():
    try:
        config = load_config(REPO / "deploy" / "earshot.yaml")
    except ConfigError as exc:
        if "store.backend" in str(exc) or "store.elasticsearch" in str(exc):
            pytest.skip("monitor.config has no elasticsearch store backend yet (StoreConfig snippet not applied)")
        raise
    assert config.store.backend == "elasticsearch"
    assert config.store.elasticsearch.airflow_conn_id == "earshot_elasticsearch"
    assert config.store.elasticsearch.index_prefix == env_example()["EARSHOT_INDEX_PREFIX"]


def test_the_celery_profile_adds_a_broker_and_a_scalable_worker_pool():
    """Scale-out (docs/scale-out.md): the executor and the worker count are .env settings."""
    services = compose()["services"]
    assert services["redis"]["profiles"] == ["celery"] and services["airflow-worker"]["profiles"] == ["celery"]
    worker = services["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    assert worker["deploy"]["replicas"] == 2  # `--scale airflow-worker=N` for more
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["environment"]["EARSHOT_CONFIG"] == "/opt/earshot/deploy/earshot.yaml"
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert all("profiles" not in services[name] for name in EXPECTED_SERVICES - {"redis", "airflow-worker"})
