"""`earshot new-source NAME` and `earshot new-channel NAME`: generate a plugin, wired together and green.

Why a generator and not "copy an existing source": a source is only done when it also has a
fake platform server and a contract harness (tests/sources/test_contract.py fails for any
registered plugin without one) and an entry point. Generating all four at once, already
passing the contract against the generic fake API, lets an engineer start from green and
change the wire format, instead of discovering the missing pieces in review.

What it generates is what the built-in sources are, so there is one way to write a source:
a package whose `__init__.py` holds the plugin descriptor the entry point names,
`settings.py` its settings (a `RetrySettings`, pydantic only) and `source.py` the client,
which retries through `retries.RetryPolicy` and keeps its cursor with `cursors.fetch_streams`
and `cursors.scan_pages`; its fake API builds on tests/sources/fakes/_server.py like the
others, and its harness on `FakeHarness` (tests/sources/harness.py).

`new-channel` does the same for an alert channel: a package `monitor/alerts/<name>/` laid out
like a source's (descriptor, pydantic-only settings, the channel), built on the shared chat
webhook channel, and a harness for the channel contract suite (tests/channels/test_contract.py).

The commands only add files and one pyproject line; they refuse to overwrite anything.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from monitor.plugins import CHANNELS_GROUP, SOURCES_GROUP
from monitor.scaffold_templates import channel, fake_api, harness, package, settings, source

__all__ = ["CHANNEL", "SOURCE", "Kind", "Scaffold", "ScaffoldError", "class_stem", "find_root", "new_channel",
           "new_source", "next_steps"]

GROUP = SOURCES_GROUP  # the group `add_entry_point` edits unless told otherwise
NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9_]{0,38}[a-z0-9])?")


@dataclass(frozen=True)
class Kind:
    """One kind of plugin the scaffold generates: where it lives, what names it may not take, its files."""

    what: str  # how messages name one: "source", "alert channel"
    group: str  # its entry-point group
    folder: str  # the package its plugins live in, e.g. "monitor/sources"
    attribute: str  # what the entry point names in the generated package: SOURCE, CHANNEL
    class_suffix: str  # "Source", "Channel"
    reserved: frozenset[str]  # modules of `folder` that are not plugins; a plugin by that name would shadow them
    files: Callable[[str], Mapping[str, str]]  # the plugin name -> {path relative to the checkout: template}
    values: Callable[[str, str], Mapping[str, str]]  # (name, class stem) -> the templates' own placeholders


SOURCE = Kind(
    "source", SOURCES_GROUP, "monitor/sources", "SOURCE", "Source",
    frozenset({"base", "credentials", "cursors", "harness", "registry", "retries", "reviews"}),
    lambda name: {
        f"monitor/sources/{name}/__init__.py": package.TEMPLATE,
        f"monitor/sources/{name}/settings.py": settings.TEMPLATE,
        f"monitor/sources/{name}/source.py": source.TEMPLATE,
        f"tests/sources/fakes/{name}_api.py": fake_api.TEMPLATE,
        f"tests/sources/harness_{name}.py": harness.TEMPLATE,
    },
    lambda name, cls: {"token_env": f"EARSHOT_{name.upper()}_TOKEN"},
)
CHANNEL = Kind(
    "alert channel", CHANNELS_GROUP, "monitor/alerts", "CHANNEL", "Channel",
    frozenset({"base", "builtin", "channels", "chat", "delivery", "harness", "render", "routing", "secret",
               "transport"}),
    lambda name: {
        f"monitor/alerts/{name}/__init__.py": channel.PACKAGE,
        f"monitor/alerts/{name}/settings.py": channel.SETTINGS,
        f"monitor/alerts/{name}/channel.py": channel.CHANNEL,
        f"tests/channels/harness_{name}.py": channel.HARNESS,
    },
    lambda name, cls: {"url_env": f"EARSHOT_{name.upper()}_WEBHOOK_URL", "upper": name.upper()},
)
RESERVED = SOURCE.reserved  # kept for callers of the source-only scaffold


def _table_header(group: str) -> re.Pattern[str]:
    return re.compile(r"""^\[\s*project\s*\.\s*entry-points\s*\.\s*(["'])""" + re.escape(group)
                      + r"""\1\s*\]\s*(#.*)?$""")


class ScaffoldError(ValueError):
    """Why nothing was generated: a bad or taken name, a file that exists, no checkout found."""


@dataclass(frozen=True)
class Scaffold:
    """What `new_source` or `new_channel` did, for the caller to report."""

    name: str
    class_name: str
    root: Path
    created: list[Path]
    entry_point: str  # the line added to pyproject.toml
    kind: Kind = SOURCE


def class_stem(name: str) -> str:
    """`rss` -> `RSS`, `x` -> `X`, `app_store` -> `AppStore`: names of three letters or fewer read as acronyms."""
    if len(name) <= 3 and "_" not in name:
        return name.upper()
    return "".join(part.capitalize() for part in name.split("_") if part)


def find_root(start: Path) -> Path:
    """The Earshot checkout containing `start`: the nearest parent with pyproject.toml and monitor/sources/."""
    for candidate in [start.resolve(), *start.resolve().parents]:
        if (candidate / "pyproject.toml").is_file() and (candidate / "monitor" / "sources").is_dir():
            return candidate
    raise ScaffoldError(f"no Earshot checkout around {start} (looked for pyproject.toml next to monitor/sources/); pass --root")


def _registered(pyproject: Path, group: str = GROUP) -> dict[str, str]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"{pyproject}: not valid TOML ({exc})") from None
    return dict(data.get("project", {}).get("entry-points", {}).get(group, {}))


def check_name(name: str, root: Path, installed: Iterable[str] = (), kind: Kind = SOURCE) -> None:
    """Raise ScaffoldError unless `name` can become a new module, entry point (and, for a source, DAG id)."""
    if not NAME_PATTERN.fullmatch(name) or "__" in name:
        raise ScaffoldError(
            f"{name!r} is not a valid {kind.what} name: use lowercase letters, digits and single underscores, "
            "starting with a letter (it becomes a module name, an entry point and, for a source, part of a DAG id)"
        )
    if keyword.iskeyword(name) or name in kind.reserved:
        raise ScaffoldError(f"{name!r} is reserved (a Python keyword or a module of {kind.folder}/)")
    registered = _registered(root / "pyproject.toml", kind.group)
    if name in registered:
        raise ScaffoldError(f"{name!r} is taken: pyproject.toml already registers {name} = {registered[name]!r}")
    if name in set(installed):
        raise ScaffoldError(f"{name!r} is taken: an installed package already registers {kind.what} {name!r}")


def _plan(kind: Kind, name: str, cls: str, root: Path) -> dict[Path, str]:
    values = {
        "name": name,
        "cls": cls,
        "title": cls if len(name) <= 3 else name.replace("_", " ").title(),
        **kind.values(name, cls),
    }
    return {root / path: Template(template).substitute(values) for path, template in kind.files(name).items()}


def add_entry_point(text: str, name: str, target: str, group: str = GROUP) -> str:
    """pyproject text with `name = "target"` appended to the `group` entry-point table (created if missing).

    A text edit, not a TOML rewrite, so comments and layout survive.
    """
    line = f'{name} = "{target}"'
    lines = text.splitlines()
    header = _table_header(group)
    start = next((i for i, raw in enumerate(lines) if header.match(raw.strip())), None)
    if start is None:
        return text.rstrip("\n") + f'\n\n[project.entry-points."{group}"]\n{line}\n'
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    last = max((i for i in range(start, end) if lines[i].strip()), default=start)
    lines.insert(last + 1, line)
    return "\n".join(lines) + "\n"


def new_source(name: str, root: Path, class_name: str | None = None, installed: Iterable[str] | None = None) -> Scaffold:
    """Generate the source package, fake API, harness and entry point for `name` under `root`.

    `installed`: plugin names already installed (default: the `earshot.sources` entry points of
    this environment), so a name a third-party package uses is refused too.
    """
    if installed is None:
        from monitor.sources import available_sources

        installed = available_sources()
    return generate(SOURCE, name, root, class_name, installed)


def new_channel(name: str, root: Path, class_name: str | None = None, installed: Iterable[str] | None = None) -> Scaffold:
    """Generate the channel package, contract harness and entry point for `name` under `root`."""
    if installed is None:
        from monitor.alerts import available_channels

        installed = available_channels()
    return generate(CHANNEL, name, root, class_name, installed)


def generate(kind: Kind, name: str, root: Path, class_name: str | None, installed: Iterable[str]) -> Scaffold:
    """Write `kind`'s files for `name` and register its entry point; nothing at all if any check fails."""
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise ScaffoldError(f"{pyproject} not found: run inside an Earshot checkout or pass --root")
    check_name(name, root, installed, kind)
    stem = class_stem(name) if class_name is None else class_name.removesuffix(kind.class_suffix)
    if not stem.isidentifier() or not stem[:1].isupper():
        raise ScaffoldError(f"--class-name {class_name!r} is not a CapWords Python identifier")

    files = _plan(kind, name, stem, root)
    module = root / kind.folder / f"{name}.py"  # a module of that name would be shadowed
    existing = [path for path in [*files, module] if path.exists()]
    if existing:
        listed = ", ".join(str(p.relative_to(root)) for p in existing)
        raise ScaffoldError(f"refusing to overwrite {listed}; remove it or choose another name")

    target = f"{kind.folder.replace('/', '.')}.{name}:{kind.attribute}"
    updated = add_entry_point(pyproject.read_text(encoding="utf-8"), name, target, kind.group)
    if tomllib.loads(updated).get("project", {}).get("entry-points", {}).get(kind.group, {}).get(name) != target:
        raise ScaffoldError(f"could not add the entry point to {pyproject}; add {name} = {target!r} by hand")

    created: list[Path] = []
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
            fh.write(content)
        created.append(path)
    for package_init in sorted({p.parent / "__init__.py" for p in files if p.parts[len(root.parts)] == "tests"}):
        if not package_init.exists():
            package_init.write_text(f'"""{_INIT_DOCS.get(package_init.parent.name, "Tests.")}"""\n', encoding="utf-8")
            created.append(package_init)
    pyproject.write_text(updated, encoding="utf-8")
    return Scaffold(name, f"{stem}{kind.class_suffix}", root, created, f'{name} = "{target}"', kind)


_INIT_DOCS = {"fakes": "Fake platform servers on loopback, one module per source.",
              "channels": "The alert channel contract suite and one harness per channel."}


def next_steps(result: Scaffold) -> str:
    """What to do after generating, in order: install, test, fill in, enable (and for a source, see the DAG)."""
    rel = [str(p.relative_to(result.root)) for p in result.created]
    name = result.name
    kind = result.kind
    head = [
        f"Created the {name!r} {kind.what} ({result.class_name}, described by "
        f"{kind.folder.replace('/', '.')}.{name}:{kind.attribute}):",
        *(f"  {p}" for p in rel),
        f"  pyproject.toml: {result.entry_point}",
        "",
        "Next steps:",
        "  1. Register the entry point:   pip install -e .",
    ]
    if kind is CHANNEL:
        return "\n".join([
            *head,
            f"  2. Run the contract suite:    python -m pytest tests/channels/test_contract.py -k {name}",
            "     (it passes against a webhook receiver on loopback; keep it green while you go on)",
            f"  3. Fill in the TODO(new-channel) marks: the message format in monitor/alerts/{name}/channel.py,",
            "     then the service's own options in settings.py.",
            f"  4. Add it to earshot.yaml:    alerts: {{channels: [{{type: {name}, url_env: {CHANNEL.values(name, '')['url_env']}}}]}}",
            "     and put the webhook URL in that environment variable (never in the file).",
            "  5. Check it:                   earshot check-config",
            "  Guide: docs/adding-a-channel.md",
        ])
    return "\n".join([
        *head,
        f"  2. Run the contract suite:    python -m pytest tests/sources/test_contract.py -k {name}",
        "     (it passes against the generic fake API; keep it green while you go on)",
        f"  3. Fill in the TODO(new-source) marks: the platform's wire format in monitor/sources/{name}/source.py",
        f"     and tests/sources/fakes/{name}_api.py, then settings.py and credentials.",
        f"  4. Enable it in earshot.yaml:  sources: {{{name}: {{poll_seconds: 300}}}}",
        "     and put its credential in the environment (never in the file).",
        f"  5. See its DAG:               airflow dags reserialize && airflow dags list | grep earshot_ingest_{name}",
        "  Guide: docs/adding-a-source.md",
    ])
