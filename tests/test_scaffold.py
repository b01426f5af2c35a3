"""`earshot new-source`: what it generates works, it never overwrites, and an enabled source gets its DAG.

Every scaffold runs in a temporary copy of the files it needs (pyproject.toml, the `monitor`
package, the contract suite), never in the repo. Generated code is imported and tested in a
subprocess whose PYTHONPATH puts that copy first, the way it will run once it is in the repo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.scaffold import ScaffoldError, add_entry_point, class_stem, new_channel, new_source, next_steps
from tests.fake_distribution import write_distribution
from tests.test_dags import DESCRIBE_DAGBAG, airflow_env, run_python, write_config

REPO = Path(__file__).resolve().parent.parent
GENERATED = ("monitor/sources/widget/__init__.py", "monitor/sources/widget/settings.py",
             "monitor/sources/widget/source.py", "tests/sources/fakes/widget_api.py",
             "tests/sources/harness_widget.py")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of the repo the scaffold and the generated code touch, copied."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPO / "monitor", root / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests" / "sources" / "fakes").mkdir(parents=True)
    for name in ("__init__.py", "harness.py", "sleeps.py", "test_contract.py", "fakes/_server.py"):
        shutil.copy2(REPO / "tests" / "sources" / name, root / "tests" / "sources" / name)
    (root / "tests" / "channels").mkdir()
    for name in ("__init__.py", "harness.py", "test_contract.py"):
        shutil.copy2(REPO / "tests" / "channels" / name, root / "tests" / "channels" / name)
    shutil.copy2(REPO / "tests" / "test_alert_support.py", root / "tests" / "test_alert_support.py")
    return root


def entry_points(root: Path) -> dict[str, str]:
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["entry-points"]["earshot.sources"]


def subprocess_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EARSHOT_", "PYTEST_"))}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    return env


def test_it_generates_the_module_fake_harness_and_entry_point(checkout: Path) -> None:
    repo_pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    before = entry_points(checkout)

    result = new_source("widget", checkout, installed=[])

    assert sorted(str(p.relative_to(checkout)) for p in result.created) == sorted(
        [*GENERATED, "tests/sources/fakes/__init__.py"]
    )
    assert all((checkout / path).is_file() for path in GENERATED)
    assert entry_points(checkout) == {**before, "widget": "monitor.sources.widget:SOURCE"}
    assert 'widget = "monitor.sources.widget:SOURCE"' in (checkout / "pyproject.toml").read_text()
    module = "".join((checkout / path).read_text() for path in GENERATED[:3])
    for needle in ("SOURCE = Plugin(", "class WidgetSettings(RetrySettings)", "class WidgetSource", "def fetch(",
                   "def refresh(", "credential(", "SourceError(", "Problem(", "TODO(new-source)"):
        assert needle in module, needle
    steps = next_steps(result)
    for needle in ("pip install -e .", "test_contract.py -k widget", "earshot.yaml", "airflow dags list",
                   "earshot_ingest_widget", "docs/adding-a-source.md"):
        assert needle in steps, needle
    # The real repo is untouched.
    assert (REPO / "pyproject.toml").read_text(encoding="utf-8") == repo_pyproject
    assert not (REPO / "monitor" / "sources" / "widget").exists()


def test_the_generated_source_is_built_like_the_built_in_ones(checkout: Path) -> None:
    """One way to write a source: the shared retries, cursors, fake server and sleeps, nothing of its own."""
    new_source("widget", checkout, installed=[])
    package = checkout / "monitor" / "sources" / "widget"
    built_in = REPO / "monitor" / "sources" / "mastodon"
    assert sorted(p.name for p in package.glob("*.py")) == sorted(p.name for p in built_in.glob("*.py"))
    settings = (package / "settings.py").read_text()
    assert "from monitor.sources.retries import RetrySettings" in settings
    assert "import httpx" not in settings and "tenacity" not in settings
    source = (package / "source.py").read_text()
    for shared in ("from monitor.sources.retries import RetryPolicy, Transient, retry_after_seconds",
                   "from monitor.sources.cursors import ScanPage, ScanState, fetch_streams, scan_pages",
                   "RetryPolicy(settings,", "fetch_streams(", "scan_pages(", "first_match(brands"):
        assert shared in source, shared
    # No retry loop, backoff arithmetic or cursor format of its own, and only the shared retry names.
    for own in ("while ", "time.sleep(", "max_attempts", "json.loads", "json.dumps", "2 **"):
        assert own not in source, own
    fake = (checkout / "tests" / "sources" / "fakes" / "widget_api.py").read_text()
    assert "from tests.sources.fakes._server import FakeAPI" in fake and "class FakeWidgetAPI(FakeAPI)" in fake
    assert "ThreadingHTTPServer" not in fake, "the fake carries its own server plumbing"
    harness = (checkout / "tests" / "sources" / "harness_widget.py").read_text()
    assert "from tests.sources.harness import FAST_RETRIES, FakeHarness" in harness
    assert "class WidgetHarness(FakeHarness)" in harness


def test_the_generated_module_and_harness_import_and_the_settings_validate(checkout: Path) -> None:
    new_source("widget", checkout, installed=[])
    code = textwrap.dedent("""
        import sys
        import pydantic
        import monitor.sources.widget as module
        assert "monitor.sources.widget.source" not in sys.modules, "the descriptor imported the client"
        assert not {"httpx", "tenacity"} & set(sys.modules), "the descriptor imported the HTTP client"
        from tests.sources import harness_widget

        assert module.__file__.startswith(ROOT), module.__file__
        settings = module.WidgetSettings.model_validate({"poll_seconds": 60, "base_url": "https://api.widget.test/v2"})
        assert settings.credentials_env == ["EARSHOT_WIDGET_TOKEN"] and settings.poll_seconds == 60
        try:
            module.WidgetSettings.model_validate({"page_sise": 10})
        except pydantic.ValidationError as exc:
            assert "page_sise" in str(exc)
        else:
            raise AssertionError("a misspelt setting was accepted")
        from monitor.plugins import Plugin
        assert isinstance(module.SOURCE, Plugin) and module.SOURCE.name == "widget"
        assert module.SOURCE.settings_model is module.WidgetSettings
        from monitor.sources.widget.source import WidgetSource as source
        assert source.name == "widget"
        assert all(callable(getattr(source, m)) for m in ("fetch", "refresh", "from_settings"))
        harness = harness_widget.make_harness()
        assert harness.name == "widget" and harness.secret
        print("OK")
    """).replace("ROOT", repr(str(checkout)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=checkout, env=subprocess_env(checkout),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr[-4000:]


def test_the_generated_source_passes_the_contract_suite_out_of_the_box(checkout: Path) -> None:
    new_source("widget", checkout, installed=[])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/sources/test_contract.py", "-q", "-p", "no:cacheprovider",
         "-k", "widget and not registered"],
        cwd=checkout, env=subprocess_env(checkout), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_it_refuses_to_overwrite_and_leaves_everything_as_it_was(checkout: Path) -> None:
    new_source("widget", checkout, installed=[])
    mine = checkout / GENERATED[0]
    mine.write_text("# my work in progress\n", encoding="utf-8")
    pyproject = (checkout / "pyproject.toml").read_text()

    # Registered already: refused on the entry point.
    with pytest.raises(ScaffoldError, match="taken"):
        new_source("widget", checkout, installed=[])

    # Files exist but no entry point (say, removed by hand): refused on the files, naming them.
    (checkout / "pyproject.toml").write_text(pyproject.replace('widget = "monitor.sources.widget:SOURCE"\n', ""))
    with pytest.raises(ScaffoldError, match="refusing to overwrite monitor/sources/widget/__init__.py"):
        new_source("widget", checkout, installed=[])
    assert mine.read_text() == "# my work in progress\n"
    assert "widget" not in entry_points(checkout)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("2fast", "not a valid"), ("Widget", "not a valid"), ("my-source", "not a valid"), ("a__b", "not a valid"),
        ("widget_", "not a valid"), ("class", "reserved"), ("base", "reserved"), ("credentials", "reserved"),
        ("replay", "taken"), ("thirdparty", "taken"),
    ],
)
def test_it_refuses_bad_or_taken_names(checkout: Path, name: str, why: str) -> None:
    listing = lambda: sorted((p, p.stat().st_mtime_ns) for p in checkout.rglob("*") if p.is_file())  # noqa: E731
    before = listing()
    with pytest.raises(ScaffoldError, match=why):
        new_source(name, checkout, installed=["thirdparty"])
    assert listing() == before, "a refused scaffold changed files"


def test_class_names_read_short_names_as_acronyms() -> None:
    assert [class_stem(n) for n in ("rss", "x", "hn", "mastodon", "app_store", "google_play")] == [
        "RSS", "X", "HN", "Mastodon", "AppStore", "GooglePlay",
    ]


def test_the_entry_point_edit_keeps_the_file_and_creates_a_missing_table() -> None:
    text = (
        '[project]\nname = "x"\n\n# Sources are plugins.\n[project.entry-points."earshot.sources"]\n'
        'replay = "monitor.sources.replay:ReplaySource"\n\n[tool.other]\nkey = 1  # kept\n'
    )
    updated = add_entry_point(text, "rss", "monitor.sources.rss:RSSSource")
    assert updated == text.replace(
        'ReplaySource"\n', 'ReplaySource"\nrss = "monitor.sources.rss:RSSSource"\n'
    )
    bare = add_entry_point('[project]\nname = "x"\n', "rss", "m:C")
    assert tomllib.loads(bare)["project"]["entry-points"]["earshot.sources"] == {"rss": "m:C"}


def test_the_cli_command_scaffolds_and_refuses_a_second_time(checkout: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["new-source", "widget", "--root", str(checkout)])
    assert first.exit_code == 0, first.output
    assert "monitor/sources/widget/source.py" in first.output and "pip install -e ." in first.output
    again = runner.invoke(app, ["new-source", "widget", "--root", str(checkout)])
    assert again.exit_code == 2
    assert "taken" in again.output


def test_enabling_the_rss_source_makes_its_ingest_dag_appear(tmp_path: Path) -> None:
    """The scaffolded-then-filled RSS source, enabled in the config, gets `earshot_ingest_rss` in Airflow."""
    from monitor.sources import available_sources

    assert "rss" in available_sources(), "the rss entry point is not installed: pip install -e ."
    rss = {"feeds": ["https://status.example.com/history.rss"], "poll_seconds": 600}
    config = write_config(tmp_path, sources={"rss": rss})
    bag = cast(dict[str, Any], run_python(DESCRIBE_DAGBAG, airflow_env(tmp_path, config), tmp_path))
    assert bag["errors"] == {}
    assert {"earshot_ingest_rss", "earshot_ingest_replay", "earshot_process"} <= set(bag["dags"])
    dag = bag["dags"]["earshot_ingest_rss"]
    assert dag["schedule"] == "datetime.timedelta(seconds=600)" and dag["max_active_runs"] == 1
    assert dag["tasks"]["ingest"]["outlets"] == ["earshot_mentions"]

    disabled = write_config(tmp_path, sources={"rss": {**rss, "enabled": False}})
    bag = cast(dict[str, Any], run_python(DESCRIBE_DAGBAG, airflow_env(tmp_path, disabled), tmp_path))
    assert "earshot_ingest_rss" not in bag["dags"]


# -- new-channel ------------------------------------------------------------------------------

CHANNEL_FILES = ("monitor/alerts/pager/__init__.py", "monitor/alerts/pager/settings.py",
                 "monitor/alerts/pager/channel.py", "tests/channels/harness_pager.py")


def install_entry_points(root: Path, site: Path) -> None:
    """What `pip install -e .` does for the registry: the checkout's entry points, as package metadata."""
    groups = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    write_distribution(site, "earshot-checkout", "".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in names.items()) + "\n"
        for group, names in groups.items()
    ))


def test_new_channel_generates_a_package_built_like_slack_and_teams(checkout: Path) -> None:
    before = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["entry-points"]["earshot.channels"]
    result = new_channel("pager", checkout, installed=[])

    assert sorted(str(p.relative_to(checkout)) for p in result.created) == sorted(CHANNEL_FILES)
    after = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["entry-points"]["earshot.channels"]
    assert after == {**before, "pager": "monitor.alerts.pager:CHANNEL"}
    package = "".join((checkout / path).read_text() for path in CHANNEL_FILES[:3])
    for needle in ('CHANNEL = Plugin("pager", PagerSettings, lazy("monitor.alerts.pager.channel:PagerChannel',
                   "class PagerSettings(ChatSettings)", 'type: Literal["pager"] = "pager"',
                   "class PagerChannel(ChatWebhookChannel)", "def message(v: AlertView)", "TODO(new-channel)"):
        assert needle in package, needle
    settings = (checkout / CHANNEL_FILES[1]).read_text()
    assert "httpx" not in settings and "monitor.alerts.chat" not in settings, "the settings import the channel"
    steps = next_steps(result)
    for needle in ("pip install -e .", "tests/channels/test_contract.py -k pager", "type: pager",
                   "EARSHOT_PAGER_WEBHOOK_URL", "docs/adding-a-channel.md"):
        assert needle in steps, needle
    assert not (REPO / "monitor" / "alerts" / "pager").exists()


def test_the_generated_channel_passes_the_channel_contract_suite_out_of_the_box(checkout: Path, tmp_path: Path) -> None:
    new_channel("pager", checkout, installed=[])
    site = tmp_path / "site"
    install_entry_points(checkout, site)
    env = subprocess_env(checkout)
    env["PYTHONPATH"] = f"{checkout}{os.pathsep}{site}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/channels/test_contract.py", "-q", "-p", "no:cacheprovider",
         "-k", "pager"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "10 passed" in proc.stdout and "failed" not in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize(("name", "why"), [("chat", "reserved"), ("slack", "taken"), ("Pager", "not a valid")])
def test_new_channel_refuses_bad_or_taken_names(checkout: Path, name: str, why: str) -> None:
    with pytest.raises(ScaffoldError, match=why):
        new_channel(name, checkout, installed=[])
    assert not (checkout / "tests" / "channels" / f"harness_{name}.py").exists()


def test_the_new_channel_command_scaffolds_and_refuses_a_second_time(checkout: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["new-channel", "pager", "--root", str(checkout)])
    assert first.exit_code == 0, first.output
    assert "monitor/alerts/pager/channel.py" in first.output
    again = runner.invoke(app, ["new-channel", "pager", "--root", str(checkout)])
    assert again.exit_code == 2 and "taken" in again.output
