"""`earshot query test` and `earshot query compile`: try a brand's query before it goes live.

`test` says for each text whether the brand's query matches it and, when it does not,
why (what is missing, which exclusion hit, which filter failed): the preview a care
team needs while writing a query. `compile` prints what each platform is sent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from monitor.query import BrandQuery, Post, QueryError
from monitor.query.platforms import PLATFORMS, UnsearchableQuery, compile_query

if TYPE_CHECKING:
    from monitor.config import BrandConfig, Config

query_app = typer.Typer(help="Try a brand's query on texts, and see what each platform is sent.",
                        no_args_is_help=True)
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $EARSHOT_CONFIG, else ./earshot.yaml, else the demo).",
                 readable=False),
]
BrandOption = Annotated[str | None, typer.Option("--brand", "-b", help="The brand whose query to use (its name).")]
QueryOption = Annotated[str | None, typer.Option("--query", "-q", help="A query to try instead of a brand's.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str) -> None:
    from monitor.cli import _fail as fail

    fail(message)


def _config(path: Path | None) -> Config:
    from monitor.cli import _load

    return _load(path)


def _brand(config: Config, name: str) -> BrandConfig:
    wanted = name.casefold()
    for brand in config.brands:
        if brand.name.casefold() == wanted:
            return brand
    _fail(f"no brand {name!r} in the config; its brands are: {', '.join(b.name for b in config.brands)}")
    raise AssertionError  # _fail exits


def _query(config_path: Path | None, brand: str | None, query: str | None) -> tuple[str, BrandQuery, Config | None]:
    if query is not None:
        try:
            return "(--query)", BrandQuery.parse(query), None
        except QueryError as exc:
            _fail(f"--query: {exc}")
    config = _config(config_path)
    if brand is None:
        if len(config.brands) != 1:
            _fail(f"name a brand with --brand: {', '.join(b.name for b in config.brands)}")
        chosen = config.brands[0]
    else:
        chosen = _brand(config, brand)
    return chosen.name, chosen.compiled, config


@query_app.command("test")
def test(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to try (none: one per line on stdin).")] = None,
    brand: BrandOption = None,
    query: QueryOption = None,
    config_path: ConfigOption = None,
    lang: Annotated[str | None, typer.Option(help="The texts' language, for lang: filters.")] = None,
    source: Annotated[str | None, typer.Option(help="The texts' source, for source: filters.")] = None,
    author: Annotated[str | None, typer.Option(help="The texts' author, for author: filters.")] = None,
    country: Annotated[str | None, typer.Option(help="The texts' country, for country: filters.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Say for each text whether the brand's query matches it, and why not."""
    name, compiled, _ = _query(config_path, brand, query)
    lines = texts if texts else [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not lines:
        _fail("give texts to try, as arguments or one per line on stdin")
    results: list[dict[str, Any]] = []
    for text in lines:
        explanation = compiled.explain(Post(text, lang=lang, source=source, author=author, country=country))
        results.append({"text": text, "matched": explanation.matched, "found": explanation.found,
                        "why_not": explanation.reasons})
    if as_json:
        typer.echo(json.dumps({"brand": name, "query": compiled.text, "reads_as": compiled.normalised,
                               "results": results}, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{escape(name)}[/bold]: {escape(compiled.normalised)}", highlight=False, soft_wrap=True)
    for result in results:
        shown = escape(result["text"] if len(result["text"]) <= 100 else result["text"][:97] + "...")
        if result["matched"]:
            console.print(f"[green]✓ match[/green]     {shown}  [dim](found {escape(', '.join(result['found']))})[/dim]",
                          highlight=False, soft_wrap=True)
        else:
            console.print(f"[red]✗ no match[/red]  {shown}", highlight=False, soft_wrap=True)
            for reason in result["why_not"]:
                console.print(f"              [yellow]why:[/yellow] {escape(reason)}", highlight=False, soft_wrap=True)
    matched = sum(r["matched"] for r in results)
    console.print(f"{matched} of {len(results)} match", highlight=False)


def platform_searches(brand: BrandConfig, config: Config | None) -> dict[str, dict[str, Any]]:
    """What every platform with a search is sent for `brand`, with the source's own settings when configured."""
    out: dict[str, dict[str, Any]] = {}
    sources = config.sources if config is not None else {}
    for platform in PLATFORMS:
        settings = sources.get(platform)
        try:
            if platform == "x":
                from monitor.sources.x.source import build_queries as x_queries

                searches = x_queries([brand], getattr(settings, "languages", []),
                                     getattr(settings, "max_query_length", 512))
            elif platform == "reddit":
                from monitor.sources.reddit.source import build_queries as reddit_queries

                searches = reddit_queries([brand])
            else:
                searches = compile_query(brand.compiled.node, platform).searches
            compiled = compile_query(brand.compiled.node, platform,
                                     max_length=getattr(settings, "max_query_length", None))
            out[platform] = {"searches": searches, "exact": compiled.exact, "notes": compiled.notes,
                             "configured": settings is not None and settings.enabled}
        except (UnsearchableQuery, ValueError) as exc:
            out[platform] = {"searches": [], "error": str(exc), "configured": settings is not None and settings.enabled}
    return out


@query_app.command("compile")
def compile_(
    brand: BrandOption = None,
    query: QueryOption = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print what each source sends its platform for the brand's query (every post is re-checked locally)."""
    from monitor.config import BrandConfig

    name, compiled, config = _query(config_path, brand, query)
    chosen = BrandConfig(name=name, query=compiled.text) if config is None else _brand(config, name)
    searches = platform_searches(chosen, config)
    if as_json:
        typer.echo(json.dumps({"brand": name, "query": compiled.text, "reads_as": compiled.normalised,
                               "platforms": searches}, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{escape(name)}[/bold]: {escape(compiled.normalised)}", highlight=False, soft_wrap=True)
    console.print("  local: every post from every source is re-checked with this query", highlight=False)
    for platform, info in searches.items():
        state = " [dim](configured)[/dim]" if info["configured"] else ""
        if "error" in info:
            console.print(f"  {platform}{state}: [red]cannot be searched[/red]: {escape(info['error'])}",
                          highlight=False, soft_wrap=True)
            continue
        count = len(info["searches"])
        note = f" [dim]({'; '.join(info['notes'])})[/dim]" if info["notes"] else ""
        console.print(f"  {platform}{state}: {count} search{'es' if count != 1 else ''}{note}", highlight=False,
                      soft_wrap=True)
        for search in info["searches"]:
            console.print(f"    {escape(search)}  [dim]({len(search)} chars)[/dim]", highlight=False, soft_wrap=True)


def check_brands(config: Config) -> tuple[list[str], list[str]]:
    """Lines for `earshot check-config` about each brand's query, and the problems that must fail it.

    A query an enabled source cannot search for would fail that source on every run, so
    it is a config error now rather than an outage later.
    """
    from monitor.plugins import SOURCES_GROUP, installed
    from monitor.query.syntax import filters

    lines: list[str] = []
    problems: list[str] = []
    enabled = config.enabled_sources()
    known = set(installed(SOURCES_GROUP))
    for index, brand in enumerate(config.brands):
        origin = "query" if brand.query is not None else "queries/exclude, read as"
        lines.append(f"  brand {brand.name}: {origin} {brand.compiled.normalised}")
        for found in filters(brand.compiled.node):
            if found.name == "source" and found.value not in known:
                problems.append(f"brands.{index}.query: source:{found.value} names no installed source "
                                f"({', '.join(sorted(known))})")
        for platform in PLATFORMS:
            if platform not in enabled:
                continue
            if platform == "mastodon" and not getattr(enabled[platform], "search", True):
                continue
            try:
                compile_query(brand.compiled.node, platform,
                              max_length=getattr(enabled[platform], "max_query_length", None))
            except UnsearchableQuery as exc:
                problems.append(f"brands.{index}.query: sources.{platform} cannot search for it: {exc}")
    return lines, problems
