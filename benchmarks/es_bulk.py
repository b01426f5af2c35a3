"""Bulk indexing into the Elasticsearch store: before and after dropping `refresh=true` per write.

Run ``python -m benchmarks.es_bulk [--mentions N] [--batch B] [--json OUT]``. Ingests N
mentions (with a first engagement snapshot each) in batches of B, the way a source's
pages arrive, plus the cursor after each batch, into the loopback fake Elasticsearch
(tests/fake_elasticsearch.py), or into ``$ELASTICSEARCH_URL`` with ``--real``. Two runs:

* ``before``: every write with ``refresh=true`` (the store's old default), and a stored
  mention found with an ``ids`` search (which needs the refresh);
* ``after``: the default refresh; mentions found by ``mget`` in their monthly index;
  the written indices refreshed once, when the store next searches them or is closed
  (here: once, by the final count).

Printed, per run: mentions per second, requests and forced refreshes per batch. ``--json``
writes ``{"before": {...}, "after": {...}, "speedup": x}`` with keys ``mentions_per_s``,
``requests_per_batch``, ``forced_refreshes_per_batch``, ``wait_for_per_batch``, ``seconds``.

What the fake can and cannot show: it models near-real-time search and counts refreshes,
but a refresh costs it almost nothing, whereas on a real cluster each forced refresh writes
a small segment that later has to be merged. So with the fake the gain measured is the
round trips saved; the forced-refresh count is the figure that carries over to a cluster.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.models import Engagement, EngagementSnapshot, Mention
from monitor.store.elasticsearch import ElasticsearchStore
from monitor.store.elasticsearch.client import client_from_url

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class _SearchLocating(ElasticsearchStore):
    """The old way of finding stored mentions: an `ids` search over every month (needs a refresh)."""

    def _locate(self, mention_ids, known=None, fields=None):  # type: ignore[override]
        return super()._locate(mention_ids, None, *(() if fields is None else (fields,)))


def _batches(total: int, size: int) -> list[tuple[list[Mention], list[EngagementSnapshot]]]:
    out = []
    for start in range(0, total, size):
        mentions, snaps = [], []
        for i in range(start, min(total, start + size)):
            at = T0 + timedelta(seconds=30 * i)
            m = Mention(id=f"x:{i}", source="x", native_id=str(i), url=f"https://x.com/a/status/{i}",
                        author_handle=f"user{i % 97}", text=f"La factura {i} llegó doble, otra vez", lang="es",
                        created_at=at, brand="Acme", query="acme", engagement=Engagement(likes=i % 13))
            mentions.append(m)
            snaps.append(EngagementSnapshot(mention_id=m.id, observed_at=at, engagement=m.engagement))
        out.append((mentions, snaps))
    return out


def run(url: str, mode: str, total: int, size: int, fake: Any = None) -> dict[str, float]:
    cls, refresh = (_SearchLocating, True) if mode == "before" else (ElasticsearchStore, False)
    prefix = f"bench-{mode}-{int(time.time())}"
    store = cls(client_from_url(url), prefix, retention_days=None, refresh=refresh)
    batches = _batches(total, size)
    requests_before = len(fake.requests) if fake else 0
    kinds_before = dict(fake.refresh_kinds) if fake else {}
    start = time.perf_counter()
    for n, (mentions, snaps) in enumerate(batches):
        store.ingest(mentions, snaps, "source:x", f"cursor-{n}")
    seconds = time.perf_counter() - start
    assert store.count_mentions() == total, "every mention must be searchable after the run"
    out = {"seconds": round(seconds, 3), "mentions_per_s": round(total / seconds, 1)}
    if fake is not None:
        kinds = {k: v - kinds_before.get(k, 0) for k, v in fake.refresh_kinds.items()}
        out.update(requests_per_batch=round((len(fake.requests) - requests_before) / len(batches), 2),
                   forced_refreshes_per_batch=round(kinds.get("true", 0) / len(batches), 2),
                   wait_for_per_batch=round(kinds.get("wait_for", 0) / len(batches), 2))
    store.delete_everything()
    store.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="mentions per ingest call (a source's page)")
    parser.add_argument("--real", action="store_true", help="use $ELASTICSEARCH_URL instead of the fake")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"mentions": args.mentions, "batch": args.batch}
    if args.real:
        import os

        url = os.environ["ELASTICSEARCH_URL"]
        for mode in ("before", "after"):
            results[mode] = run(url, mode, args.mentions, args.batch)
        results["server"] = "real"
    else:
        from tests.fake_elasticsearch import FakeElasticsearch

        with FakeElasticsearch() as fake:
            for mode in ("before", "after"):
                results[mode] = run(fake.url, mode, args.mentions, args.batch, fake)
        results["server"] = "fake"
    results["speedup"] = round(results["after"]["mentions_per_s"] / results["before"]["mentions_per_s"], 2)
    for mode in ("before", "after"):
        figures = ", ".join(f"{k} {v}" for k, v in results[mode].items())
        print(f"{mode:>6}: {figures}")
    print(f"speedup: x{results['speedup']} ({results['server']}, {args.mentions} mentions in batches of {args.batch})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
