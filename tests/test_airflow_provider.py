"""Earshot as an Airflow provider, and the DAGs' operational limits (timeouts, pools, bounded XCom).

Airflow runs in subprocesses with a temporary AIRFLOW_HOME (see tests/test_dags.py), so the
providers manager discovers Earshot through its installed entry point, as a deployment does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from monitor.airflow_provider import CONNECTION_TYPES, apply_connection, get_provider_info
from monitor.cli import app
from monitor.config import load_config
from monitor.sources import find_source
from tests.test_dags import DAGS, RESULT, airflow_env, run_python, write_config


def test_provider_info_is_valid_for_airflow():
    import importlib.util

    # Found, not imported: importing Airflow here would reconfigure this process's logging.
    package = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])
    schema = json.loads((package / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "earshot"  # must equal the distribution's name
    assert {t["connection-type"] for t in info["connection-types"]} >= {
        "earshot_x", "earshot_reddit", "earshot_bluesky", "earshot_mastodon", "earshot_appstore",
        "earshot_googleplay", "earshot_slack", "earshot_teams"}


@pytest.mark.parametrize("kind", [k for k in CONNECTION_TYPES if k.config_key.startswith("sources.")],
                         ids=lambda k: k.conn_type)
def test_each_connection_form_matches_its_source_settings(kind):
    source = kind.config_key.removeprefix("sources.")
    model = find_source(source).settings_model
    defaults = model.model_fields["credentials_env"].get_default(call_default_factory=True)
    assert set(kind.env.values()) == set(defaults)  # one form field per credential the source reads
    for setting in [*kind.settings.values(), *kind.extras]:
        assert setting in model.model_fields, f"{kind.conn_type}: {setting} is not a setting of sources.{source}"
    assert "password" in kind.labels or not defaults  # a secret field exactly when the source has secrets


PROVIDERS = f"""
    import json
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    behaviours = pm.field_behaviours
    widgets = pm.connection_form_widgets
    print({RESULT!r} + json.dumps({{
        "providers": sorted(pm.providers),
        "hooks": {{k: v.hook_class_name for k, v in pm.hooks.items() if v and k.startswith("earshot")}},
        "x": behaviours.get("earshot_x"),
        "widgets": sorted(k for k in widgets if "earshot" in k),
    }}))
"""


def test_airflow_lists_earshot_and_its_connection_forms(tmp_path):
    env = airflow_env(tmp_path, write_config(tmp_path))
    found = run_python(PROVIDERS, env, tmp_path)
    assert "earshot" in found["providers"]
    assert found["hooks"]["earshot_x"] == "monitor.airflow_hooks.EarshotXHook"
    assert len(found["hooks"]) == len(CONNECTION_TYPES)
    x = found["x"]
    assert x["relabeling"]["password"] == "Bearer token"
    assert {"login", "schema", "port", "extra"} <= set(x["hidden_fields"]) and "password" not in x["hidden_fields"]
    assert "extra__earshot_reddit__user_agent" in found["widgets"]


APPLY = f"""
    import json
    from monitor.config import load_config
    from monitor.sources import create_source
    from monitor.sources.credentials import credential
    import sys

    config = load_config(sys.argv[1])
    source = create_source("x", config)
    settings = config.sources["x"]
    print({RESULT!r} + json.dumps({{
        "api_base_url": source.settings.api_base_url,
        "token": credential(settings, "EARSHOT_X_BEARER_TOKEN", "password", source="x"),
    }}))
"""


def test_an_earshot_x_connection_supplies_the_token_and_the_base_url(tmp_path):
    config = write_config(tmp_path, sources={"x": {"airflow_conn_id": "brand_x"}})
    env = airflow_env(tmp_path, config)
    env.pop("EARSHOT_X_BEARER_TOKEN", None)
    env["AIRFLOW_CONN_BRAND_X"] = json.dumps({"conn_type": "earshot_x", "password": "token-from-airflow",
                                              "host": "http://127.0.0.1:8765"})
    proc = subprocess.run([sys.executable, "-c", APPLY.replace("\n    ", "\n"), str(config)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    assert line, proc.stderr[-3000:]
    assert json.loads(line[0][len(RESULT):]) == {"api_base_url": "http://127.0.0.1:8765",
                                                  "token": "token-from-airflow"}


def test_apply_connection_changes_nothing_without_a_connection(tmp_path):
    config = load_config(write_config(tmp_path, sources={"x": {"enabled": True}}))
    settings = config.sources["x"]
    assert apply_connection("x", settings) is settings


def test_check_config_says_which_variable_or_connection_each_source_uses(tmp_path):
    config = write_config(tmp_path, sources={"x": {"airflow_conn_id": "brand_x"},
                                             "mastodon": {"hashtags": ["brisamobile"]}})
    result = CliRunner().invoke(app, ["check-config", str(config)],
                                env={"EARSHOT_X_BEARER_TOKEN": "", "COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert ("$EARSHOT_X_BEARER_TOKEN (not set), else Airflow connection 'brand_x' (field 'password')"
            in result.output)
    assert ("$EARSHOT_MASTODON_ACCESS_TOKEN (not set); in Airflow, set sources.mastodon.airflow_conn_id to an "
            "'Earshot Mastodon' connection") in result.output


def test_airflow_connections_command_lists_every_type():
    result = CliRunner().invoke(app, ["airflow", "connections"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for kind in CONNECTION_TYPES:
        assert kind.conn_type in result.output
    assert "smtp" in result.output and "elasticsearch" in result.output


# -- the DAGs' limits -----------------------------------------------------------------------

LIMITS = f"""
    import json
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder={str(DAGS)!r})
    print({RESULT!r} + json.dumps({{"errors": bag.import_errors, "dags": {{
        d.dag_id: {{
            "dagrun_timeout": d.dagrun_timeout.total_seconds() if d.dagrun_timeout else None,
            "tasks": {{t.task_id: {{
                "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                "pool": t.pool,
                "on_failure": bool(t.on_failure_callback),
            }} for t in d.tasks}},
        }} for d in bag.dags.values()}}}}))
"""


def test_every_task_has_a_timeout_a_failure_callback_and_live_sources_a_pool(tmp_path):
    config = write_config(tmp_path, sources={"x": {"enabled": True}})
    found = run_python(LIMITS, airflow_env(tmp_path, config), tmp_path)
    assert found["errors"] == {}
    for dag_id, dag in found["dags"].items():
        assert dag["dagrun_timeout"], dag_id
        for task_id, task in dag["tasks"].items():
            assert task["timeout"] and task["on_failure"], f"{dag_id}.{task_id}"
    assert found["dags"]["earshot_ingest_x"]["tasks"]["ingest"]["pool"] == "earshot_x"
    assert found["dags"]["earshot_ingest_replay"]["tasks"]["ingest"]["pool"] == "default_pool"


def test_pools_command_prints_what_airflow_pools_import_reads(tmp_path):
    config = write_config(tmp_path, sources={"x": {"enabled": True}, "bluesky": {"enabled": True}})
    result = CliRunner().invoke(app, ["airflow", "pools", "-c", str(config), "--slots", "2"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)
    assert set(spec) == {"earshot_x", "earshot_bluesky"}
    assert spec["earshot_x"]["slots"] == 2


@pytest.mark.slow
def test_pools_apply_creates_them_in_airflow(tmp_path):
    config = write_config(tmp_path, sources={"x": {"enabled": True}})
    env = airflow_env(tmp_path, config)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=300)
    earshot = Path(sys.executable).parent / "earshot"
    proc = subprocess.run([str(earshot), "airflow", "pools", "-c", str(config), "--apply"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = subprocess.run([sys.executable, "-m", "airflow", "pools", "list", "-o", "json"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=True)
    assert "earshot_x" in {p["pool"] for p in json.loads(listed.stdout)}
