"""Tombstones, retention and the erasure audit log in Elasticsearch (the `Store` protocol's removal part).

A tombstone is a partial update of the mention document (`docs.tombstone_update`): text, title,
author and URL blanked, `removed` set; counts, snapshots and alerts stay. Retention: ILM deletes
a monthly index `retention_days` after its month ends (templates.ilm_policy); `purge_older_than`
is the scheduled purge that enforces the exact cutoff in between, document by document, and
keeps (as tombstones) the mentions an alert refers to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.store.base import REMOVED_AUTHOR, Erasure
from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.indices import IDS_PER_LOOKUP, IndexClient

_BY_ID = [{"id": "asc"}]
_BY_SNAPSHOT = [{"mention_id": "asc"}, {"observed_at": "asc"}]


class Removals(IndexClient):
    def tombstone(self, removals: Sequence[tuple[str, str]], at: datetime) -> int:
        wanted = dict(removals)
        done = 0
        ids = list(wanted)
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            body = self._search(self.names.pattern("mentions"), q.ids(chunk), size=len(chunk),
                                source_includes=["removed", "author_handle"])
            live = [hit for hit in body["hits"]["hits"] if not hit["_source"].get("removed")]
            actions = [
                {"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"],
                 "doc": docs.tombstone_update(wanted[hit["_id"]], at), "retry_on_conflict": 3}
                for hit in live
            ]
            self._bulk(actions + self._scrubbed_reasons(live), "tombstones")
            done += len(actions)
        return done

    def _scrubbed_reasons(self, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The detector's explanation names the author ("x post by @ana ..."): that goes too."""
        handles = {hit["_id"]: hit["_source"].get("author_handle") or "" for hit in hits}
        if not handles:
            return []
        found = self._search(self.names.pattern("alerts"), q.terms("mention_id", list(handles)),
                             size=10 * len(handles), source_includes=["mention_id", "reason"])
        actions = []
        for hit in found["hits"]["hits"]:
            handle = handles.get(hit["_source"].get("mention_id"), "")
            reason = hit["_source"].get("reason") or ""
            if handle and f"@{handle}" in reason:
                actions.append({"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"],
                                "doc": {"reason": reason.replace(f"@{handle}", f"@{REMOVED_AUTHOR}")},
                                "retry_on_conflict": 3})
        return actions

    def mention_ids_by_author(self, handle: str, source: str | None = None) -> list[str]:
        must: list[dict[str, Any]] = [
            {"term": {"author_handle": {"value": handle.removeprefix("@"), "case_insensitive": True}}}]
        if source:
            must.append(q.term("source", source))
        query = {"bool": {"filter": must, "must_not": [{"exists": {"field": "removed"}}]}}
        return [hit["_id"] for hit in self._hits(self.names.pattern("mentions"), query, _BY_ID, source_includes=["id"])]

    def purge_older_than(self, cutoff: datetime) -> tuple[int, int]:
        old = {"range": {"created_at": {"lt": docs.iso(cutoff)}}}
        hits = list(self._hits(self.names.pattern("mentions"), old, _BY_ID, source_includes=["removed"]))
        alerted: set[str] = set()
        ids = [hit["_id"] for hit in hits]
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            found = self._search(self.names.pattern("alerts"), q.terms("mention_id", chunk), size=10 * len(chunk),
                                 source_includes=["mention_id"])
            alerted |= {h["_source"]["mention_id"] for h in found["hits"]["hits"]}
        self.tombstone([(mid, "retention") for mid in ids if mid in alerted], cutoff)
        gone = [hit for hit in hits if hit["_id"] not in alerted]
        self._bulk([{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in gone], "retention")
        gone_ids = [h["_id"] for h in gone]
        stale: list[dict[str, Any]] = [{"range": {"observed_at": {"lt": docs.iso(cutoff)}}}]
        for start in range(0, len(gone_ids), IDS_PER_LOOKUP):
            stale.append(q.terms("mention_id", gone_ids[start : start + IDS_PER_LOOKUP]))
        snaps = list(self._hits(self.names.pattern("snapshots"), {"bool": {"should": stale}}, _BY_SNAPSHOT,
                                source_includes=["mention_id"]))
        self._bulk([{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in snaps], "retention")
        return len(hits), len(snaps)

    def add_erasure(self, entry: Erasure) -> None:
        doc = {"id": entry.id, "at": docs.iso(entry.at), "actor": entry.actor, "action": entry.action,
               "subject": entry.subject, "reason": entry.reason, "mentions": entry.mentions,
               "snapshots": entry.snapshots}
        self._bulk([{"_op_type": "create", "_index": self.names.index("erasures"), "_id": entry.id,
                     "_source": doc}], "erasure log")

    def erasures(self, limit: int = 100) -> list[Erasure]:
        hits = self._hits(self.names.pattern("erasures"), q.match_all(), [{"at": "desc"}, {"id": "desc"}], limit)
        return [Erasure(h["_source"]["id"], docs.parse_iso(h["_source"]["at"]), h["_source"]["actor"],
                        h["_source"]["action"], h["_source"]["subject"], h["_source"]["reason"],
                        h["_source"]["mentions"], h["_source"]["snapshots"]) for h in hits]
