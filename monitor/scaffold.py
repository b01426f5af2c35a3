"""`earshot new-source NAME`: generate everything a new source needs, wired together and green.

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
others, and its harness waits with tests/sources/sleeps.py.

The command only adds files and one pyproject line; it refuses to overwrite anything.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from monitor.plugins import SOURCES_GROUP as GROUP
from monitor.scaffold_templates import fake_api, harness, package, settings, source

__all__ = ["Scaffold", "ScaffoldError", "class_stem", "find_root", "new_source", "next_steps"]

NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9_]{0,38}[a-z0-9])?")
# Modules of monitor/sources/ that are not sources; a plugin by that name would shadow them.
RESERVED = frozenset({"base", "credentials", "cursors", "harness", "registry", "retries", "reviews"})
TABLE_HEADER = re.compile(r"""^\[\s*project\s*\.\s*entry-points\s*\.\s*(["'])""" + re.escape(GROUP)
                          + r"""\1\s*\]\s*(#.*)?$""")


class ScaffoldError(ValueError):
    """Why nothing was generated: a bad or taken name, a file that exists, no checkout found."""


@dataclass(frozen=True)
class Scaffold:
    """What `new_source` did, for the caller to report."""

    name: str
    class_name: str
    root: Path
    created: list[Path]
    entry_point: str  # the line added to pyproject.toml


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


def _registered(pyproject: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"{pyproject}: not valid TOML ({exc})") from None
    return dict(data.get("project", {}).get("entry-points", {}).get(GROUP, {}))


def check_name(name: str, root: Path, installed: Iterable[str] = ()) -> None:
    """Raise ScaffoldError unless `name` can become a new module, entry point and DAG id."""
    if not NAME_PATTERN.fullmatch(name) or "__" in name:
        raise ScaffoldError(
            f"{name!r} is not a valid source name: use lowercase letters, digits and single underscores, "
            "starting with a letter (it becomes a module name, an entry point and part of a DAG id)"
        )
    if keyword.iskeyword(name) or name in RESERVED:
        raise ScaffoldError(f"{name!r} is reserved (a Python keyword or a module of monitor/sources/)")
    registered = _registered(root / "pyproject.toml")
    if name in registered:
        raise ScaffoldError(f"{name!r} is taken: pyproject.toml already registers {name} = {registered[name]!r}")
    if name in set(installed):
        raise ScaffoldError(f"{name!r} is taken: an installed package already registers a source plugin named {name!r}")


def _plan(name: str, cls: str, root: Path) -> dict[Path, str]:
    values = {
        "name": name,
        "cls": cls,
        "title": cls if len(name) <= 3 else name.replace("_", " ").title(),
        "token_env": f"EARSHOT_{name.upper()}_TOKEN",
    }
    render = lambda template: Template(template).substitute(values)  # noqa: E731 - a one-line helper
    package_dir = root / "monitor" / "sources" / name
    return {
        package_dir / "__init__.py": render(package.TEMPLATE),
        package_dir / "settings.py": render(settings.TEMPLATE),
        package_dir / "source.py": render(source.TEMPLATE),
        root / "tests" / "sources" / "fakes" / f"{name}_api.py": render(fake_api.TEMPLATE),
        root / "tests" / "sources" / f"harness_{name}.py": render(harness.TEMPLATE),
    }


def add_entry_point(text: str, name: str, target: str) -> str:
    """pyproject text with `name = "target"` appended to the earshot.sources table (created if missing).

    A text edit, not a TOML rewrite, so comments and layout survive.
    """
    line = f'{name} = "{target}"'
    lines = text.splitlines()
    start = next((i for i, raw in enumerate(lines) if TABLE_HEADER.match(raw.strip())), None)
    if start is None:
        return text.rstrip("\n") + f'\n\n[project.entry-points."{GROUP}"]\n{line}\n'
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    last = max((i for i in range(start, end) if lines[i].strip()), default=start)
    lines.insert(last + 1, line)
    return "\n".join(lines) + "\n"


def new_source(name: str, root: Path, class_name: str | None = None, installed: Iterable[str] | None = None) -> Scaffold:
    """Generate the source module, fake API, harness and entry point for `name` under `root`.

    `installed`: plugin names already installed (default: the `earshot.sources` entry points of
    this environment), so a name a third-party package uses is refused too.
    """
    if installed is None:
        from monitor.sources import available_sources

        installed = available_sources()
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise ScaffoldError(f"{pyproject} not found: run inside an Earshot checkout or pass --root")
    check_name(name, root, installed)
    stem = class_stem(name) if class_name is None else class_name.removesuffix("Source")
    if not stem.isidentifier() or not stem[:1].isupper():
        raise ScaffoldError(f"--class-name {class_name!r} is not a CapWords Python identifier")

    files = _plan(name, stem, root)
    module = root / "monitor" / "sources" / f"{name}.py"  # a module of that name would be shadowed
    existing = [path for path in [*files, module] if path.exists()]
    if existing:
        listed = ", ".join(str(p.relative_to(root)) for p in existing)
        raise ScaffoldError(f"refusing to overwrite {listed}; remove it or choose another name")

    target = f"monitor.sources.{name}:SOURCE"
    updated = add_entry_point(pyproject.read_text(encoding="utf-8"), name, target)
    if tomllib.loads(updated).get("project", {}).get("entry-points", {}).get(GROUP, {}).get(name) != target:
        raise ScaffoldError(f"could not add the entry point to {pyproject}; add {name} = {target!r} by hand")

    fakes_init = root / "tests" / "sources" / "fakes" / "__init__.py"
    created: list[Path] = []
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
            fh.write(content)
        created.append(path)
    if not fakes_init.exists():
        fakes_init.write_text('"""Fake platform servers on loopback, one module per source."""\n', encoding="utf-8")
        created.append(fakes_init)
    pyproject.write_text(updated, encoding="utf-8")
    return Scaffold(name, f"{stem}Source", root, created, f'{name} = "{target}"')


def next_steps(result: Scaffold) -> str:
    """What to do after generating, in order: install, test, fill in, enable, see the DAG."""
    rel = [str(p.relative_to(result.root)) for p in result.created]
    name = result.name
    return "\n".join([
        f"Created the {name!r} source ({result.class_name}, described by monitor.sources.{name}:SOURCE):",
        *(f"  {p}" for p in rel),
        f"  pyproject.toml: {result.entry_point}",
        "",
        "Next steps:",
        "  1. Register the entry point:   pip install -e .",
        f"  2. Run the contract suite:    python -m pytest tests/sources/test_contract.py -k {name}",
        "     (it passes against the generic fake API; keep it green while you go on)",
        f"  3. Fill in the TODO(new-source) marks: the platform's wire format in monitor/sources/{name}/source.py",
        f"     and tests/sources/fakes/{name}_api.py, then settings.py and credentials.",
        f"  4. Enable it in earshot.yaml:  sources: {{{name}: {{poll_seconds: 300}}}}",
        "     and put its credential in the environment (never in the file).",
        f"  5. See its DAG:               airflow dags reserialize && airflow dags list | grep earshot_ingest_{name}",
        "  Guide: docs/adding-a-source.md",
    ])
