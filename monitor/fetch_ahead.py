"""Ingest on two cores: a source read in a process of its own, one batch ahead of the store.

Ingest is the longest step without the model, about half of a 100,000-post run: for each
batch the source parses and matches posts (Python), then the store writes them (SQLite and
its text index), one after the other on one core. With `scale.workers` above 1, once a source
says more is ready than one batch (`Batch.exhausted` False: a backlog, a replay, a first run),
`pipeline.ingest` reads the rest of it through a process of its own: while this process
stores batch k, that one fetches batch k+1 from batch k's cursor, which is the cursor batch k
stores. So the batches, their order and the cursors are the ones a single process reads; a
crash loses nothing (a batch fetched but not stored is fetched again from the stored cursor
by the next run); the source's errors are raised here, as they were. A quiet poll (one batch)
starts no process.

A source is built once per run and keeps no state between runs but its cursor (`Source`), so
one built in another process reads the same posts. Its `refresh`, after the last batch, runs
here on the run's own. The process is started with "spawn": a fork would inherit the open
database and any threads (progress bars, the web server).
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
import traceback
from typing import TYPE_CHECKING

from monitor.collector import collector_paused, fewer_collections
from monitor.sources import PermanentSourceError, SourceError
from monitor.workers import WorkerError, ctrl_c_held, take_ctrl_c

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from monitor.config import Config
    from monitor.sources.base import Batch

_STOP = ("stop",)


class FetchAhead:
    """The source `source_name` in a process of its own: `ask(cursor)` starts a fetch there,
    `take()` waits for its batch (or raises the source's error)."""

    def __init__(self, config: Config, source_name: str, pack: Callable[[Batch], Batch] | None = None) -> None:
        """`pack`: applied to each batch in the fetching process (the store's `pack`, which turns it
        into the rows the store writes: less to send, and less for this process to do)."""
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(config, source_name, theirs, pack), daemon=True,
                                        name=f"earshot fetch {source_name}")
        with ctrl_c_held():
            self._process.start()
        theirs.close()
        self.source_name = source_name

    def __enter__(self) -> FetchAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ask(self, cursor: str | None) -> None:
        self._pipe.send(("fetch", cursor))

    def take(self) -> Batch:
        try:
            with collector_paused():  # a batch's hundred thousand objects, none in a cycle (monitor/collector.py)
                ok, value = self._pipe.recv()
        except (EOFError, OSError) as exc:
            raise WorkerError(f"the process reading {self.source_name} died before returning its batch (out of "
                              "memory, or killed); everything stored is kept, and the next run reads on from the "
                              "stored cursor") from exc
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the process (a fetch it is in the middle of is abandoned: nothing of it was stored)."""
        try:
            self._pipe.send(_STOP)
        except OSError:
            pass  # it is gone already
        deadline = time.monotonic() + 5
        while self._process.is_alive() and time.monotonic() < deadline:
            try:  # a batch fetched and not taken (the run failed meanwhile) is read off, so its send ends
                if self._pipe.poll(0.05):
                    self._pipe.recv_bytes()
            except (EOFError, OSError):
                break
        self._process.join(timeout=max(deadline - time.monotonic(), 0.1))
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._pipe.close()


def _serve(config: Config, source_name: str, pipe: Connection, pack: Callable[[Batch], Batch] | None) -> None:
    """In the fetching process: fetch (and pack) from each cursor asked, until told to stop."""
    from monitor.sources import create_source

    try:
        take_ctrl_c()
        source = create_source(source_name, config)
        with fewer_collections():  # as ingest runs in the run's process
            while True:
                try:
                    message = pipe.recv()
                except EOFError:
                    return  # the run ended
                if message == _STOP:
                    return
                try:
                    batch = source.fetch(config.brands, message[1])
                    pipe.send((True, pack(batch) if pack is not None else batch))
                except Exception as exc:  # raised in the run's process instead, as a fetch there would have
                    exc.add_note("raised in the process fetching ahead:\n" + traceback.format_exc())
                    pipe.send((False, _portable(exc)))
    except KeyboardInterrupt:
        # Ctrl+C in a terminal reaches every process of the run: the run's own says it stopped, and the
        # batch being fetched was not stored, so the next run fetches it again. Nothing to print here.
        return


def _portable(exc: Exception) -> Exception:
    """`exc`, or the same message in the closest class that survives the trip between processes
    (an exception class whose constructor takes other arguments does not unpickle)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        kind = PermanentSourceError if isinstance(exc, PermanentSourceError) else (
            SourceError if isinstance(exc, SourceError) else RuntimeError)
        portable = kind(f"{type(exc).__name__}: {exc}")
        for note in vars(exc).get("__notes__", ()):
            portable.add_note(note)
        return portable


__all__ = ["FetchAhead"]
