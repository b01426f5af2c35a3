"""A batch packed as the rows the SQLite store writes, by the process that fetched it.

With `scale.workers` above 1, a backlog is read in a process of its own, one batch ahead of
the store (monitor/fetch_ahead.py), and each batch crosses to the process that stores it, the
one ingest waits on. As pydantic models, 100,000 posts and their readings took that process
1.1 s to unpickle and 1.6 s to turn into rows, beside SQLite's own 6 s. As rows (the values the
store inserts), they cross several times faster and are ready to write. `pack_batch` is the
SQLite store's `StoreDescriptor.pack`, applied where the batch is fetched.

A packed batch is still a batch of mentions and snapshots to whoever reads it: `MentionRows`
and `ReadingRows` are sequences of `Mention` and `EngagementSnapshot`, each built from its row
when asked for, so a store without a packer handed one anyway reads it as it would any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from monitor.models import EngagementSnapshot, Mention
from monitor.store.sqlite.rows import (
    MENTION_ROW_FIELDS, RECORD_ERRORS, mention_from_row, mention_row, reading_row, snapshot_from_row,
)

if TYPE_CHECKING:
    from monitor.sources.base import Batch

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


class _Packed(Sequence[T], Generic[T]):
    """Records kept as their rows; a slice is packed too, an item is built from its row."""

    __slots__ = ("rows",)
    _record: Callable[[tuple[Any, ...]], T]

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def __reduce__(self) -> tuple[type[_Packed[T]], tuple[Rows]]:
        return type(self), (self.rows,)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> _Packed[T]: ...
    def __getitem__(self, index: int | slice) -> T | _Packed[T]:
        if isinstance(index, slice):
            return type(self)(self.rows[index])
        return type(self)._record(self.rows[index])

    def __iter__(self) -> Iterator[T]:
        return map(type(self)._record, self.rows)


class MentionRows(_Packed[Mention]):
    """A batch's mentions as `mention_row`s."""

    __slots__ = ()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> Mention:
        return mention_from_row(dict(zip(MENTION_ROW_FIELDS, row, strict=True)))


class ReadingRows(_Packed[EngagementSnapshot]):
    """A batch's snapshots as `reading_row`s."""

    __slots__ = ()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> EngagementSnapshot:
        return snapshot_from_row({"mention_id": row[0], "observed_at": row[1], "engagement": row[2]})


def pack_batch(batch: Batch) -> Batch:
    """`batch` with its mentions and snapshots as rows. A batch with a record that cannot be made a
    row goes as it was fetched: the store sets that record aside and keeps the rest, as it does
    with any batch (`SQLiteStore.ingest`)."""
    try:
        return dataclasses.replace(batch, mentions=MentionRows([mention_row(m) for m in batch.mentions]),
                                   snapshots=ReadingRows([reading_row(s) for s in batch.snapshots]))
    except RECORD_ERRORS:
        return batch


def mention_rows(mentions: Sequence[Mention]) -> Rows:
    """`mention_row` of each: a packed batch's rows as they are."""
    return mentions.rows if isinstance(mentions, MentionRows) else [mention_row(m) for m in mentions]


def reading_rows(snapshots: Sequence[EngagementSnapshot]) -> list[tuple[str, str, str]]:
    """`reading_row` of each: a packed batch's rows as they are."""
    return snapshots.rows if isinstance(snapshots, ReadingRows) else [reading_row(s) for s in snapshots]


def reading_posts(snapshots: Sequence[EngagementSnapshot]) -> list[str]:
    """The post of each reading, read off a packed batch's rows without building the snapshots."""
    return [row[0] for row in snapshots.rows] if isinstance(snapshots, ReadingRows) else [
        s.mention_id for s in snapshots]
