"""Each alert reaches each channel once: concurrent runs, crashed senders, hostile ids, full disks.

The guarantee under test (monitor/alerts/delivery.py): a delivery is claimed in the store
before it is sent, so concurrent runs never both send it; a sender that dies after the
receiver accepted an alert but before recording it causes exactly one resend, after its
claim lapses, with the same idempotency key.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from datetime import timedelta
from urllib.parse import quote, unquote

import pytest

from monitor.alerts import LEASE, deliver
from monitor.alerts.base import IDEMPOTENCY_HEADER, idempotency_key
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.mail import EmailChannel
from monitor.alerts.routing import EVERYTHING
from monitor.alerts.transport import RetryPolicy
from monitor.alerts.webhook import ALERT_HEADER, WebhookChannel
from monitor.models import Alert, Mention, Severity
from monitor.store import SQLiteStore
from tests.test_alert_support import MENTION, SPREAD, T0, WARNING, HttpReceiver, SmtpReceiver

SECRET = "whsec-test"


@pytest.fixture
def receiver():
    r = HttpReceiver("/hook")
    yield r
    r.stop()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "earshot.db"
    store = SQLiteStore(path)
    store.ingest([MENTION], [])
    for i in range(20):
        store.add_alert(WARNING.model_copy(update={"id": f"{WARNING.id}:{i}", "created_at": T0 + timedelta(seconds=i)}))
    store.close()
    return path


def clock_at(moment):
    return lambda: moment


def test_two_runs_delivering_at_once_send_each_alert_once(db, receiver):
    gate = threading.Barrier(2)

    def run() -> None:
        store = SQLiteStore(db)  # each run its own connection, as two processes would have
        try:
            gate.wait()
            deliver(store, [WebhookChannel(receiver.url, secret=SECRET)])
        finally:
            store.close()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    keys = [r.headers[IDEMPOTENCY_HEADER] for r in receiver.received]
    assert len(keys) == len(set(keys)) == 20
    store = SQLiteStore(db)
    assert store.undelivered_alerts(WebhookChannel(receiver.url, secret=SECRET).name) == []
    store.close()


def test_a_delivery_claimed_by_a_live_run_is_left_to_it_and_a_dead_runs_claim_is_taken_over(db, receiver):
    store = SQLiteStore(db)
    channel = WebhookChannel(receiver.url, secret=SECRET)
    first = store.undelivered_alerts(channel.name)[0]
    # Another run claimed the first alert at T0 and was killed before recording its delivery.
    assert store.claim_delivery(first.id, channel.name, "dead-run", T0 + LEASE, T0)

    report = deliver(store, [channel], clock=clock_at(T0 + LEASE / 2))
    assert report.claimed_elsewhere == {channel.name: 1} and report.sent == {channel.name: 19}
    assert [a.id for a in store.undelivered_alerts(channel.name)] == [first.id]

    report = deliver(store, [channel], clock=clock_at(T0 + LEASE + timedelta(seconds=1)))
    assert report.sent == {channel.name: 1}
    last = receiver.received[-1]
    assert last.headers[IDEMPOTENCY_HEADER] == idempotency_key(first.id, channel.name) == last.json["idempotency_key"]
    store.close()


def test_the_idempotency_key_is_stable_per_alert_and_channel():
    assert idempotency_key("x:1:warning", "webhook:a") == idempotency_key("x:1:warning", "webhook:a")
    assert len({idempotency_key("x:1:warning", "webhook:a"), idempotency_key("x:1:critical", "webhook:a"),
                idempotency_key("x:1:warning", "webhook:b")}) == 3


# -- ids that would break a header -----------------------------------------------------------

HOSTILE = "x:123\r\nX-Injected: yes\u00e9"


def hostile_alerts(store) -> tuple[Alert, Alert]:
    mention = MENTION.model_copy(update={"id": Mention.make_id("x", HOSTILE[2:]), "native_id": HOSTILE[2:]})
    store.ingest([mention], [])
    bad = SPREAD.model_copy(update={"id": Alert.make_id(mention.id, Severity.critical), "mention_id": mention.id})
    store.add_alert(bad)
    store.add_alert(WARNING.model_copy(update={"created_at": T0 + timedelta(hours=1)}))
    return bad, WARNING


def test_an_id_with_line_breaks_is_encoded_in_the_webhook_header_and_blocks_nothing(store, receiver):
    bad, good = hostile_alerts(store)
    channel = WebhookChannel(receiver.url, secret=SECRET)
    report = deliver(store, [channel])
    assert report.sent == {channel.name: 2} and report.failed == {}
    headers = [r.headers[ALERT_HEADER] for r in receiver.received]
    assert all("\r" not in h and "\n" not in h for h in headers)
    assert unquote(headers[0]) == bad.id and headers[1] == good.id  # ordinary ids read plainly
    assert "X-Injected" not in receiver.received[0].headers
    assert receiver.received[0].json["id"] == bad.id


def test_an_id_with_line_breaks_is_encoded_in_the_mail_header(store):
    smtp = SmtpReceiver()
    try:
        bad, _ = hostile_alerts(store)
        channel = EmailChannel("127.0.0.1", smtp.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                               security="none", retry=RetryPolicy(attempts=1))
        report = deliver(store, [channel])
        assert report.sent == {channel.name: 2} and report.failed == {}
        assert unquote(smtp.received[0].message["X-Earshot-Alert"]) == bad.id
        assert smtp.received[0].message["X-Injected"] is None
    finally:
        smtp.stop()


def test_an_alert_a_channel_chokes_on_does_not_block_the_ones_after_it(store):
    store.ingest([MENTION], [])
    store.add_alert(WARNING)
    store.add_alert(SPREAD)

    class Choking:
        name = label = "choking"
        route = EVERYTHING
        got: list[str] = []

        def send(self, alert, mention):
            if alert.id == WARNING.id:
                raise UnicodeEncodeError("ascii", "é", 0, 1, "a bug")
            self.got.append(alert.id)

    report = deliver(store, [Choking()])
    assert Choking.got == [SPREAD.id]
    assert [a.id for a in store.undelivered_alerts("choking")] == [WARNING.id]  # tried again next run
    assert "a bug in the channel" in report.failed["choking"]


def test_a_store_that_fails_to_record_a_delivery_stops_the_sending_and_the_error_is_raised(db, monkeypatch):
    # What was sent and not recorded is sent once more after its claim lapses (the guarantee's one
    # resend); nothing more is sent meanwhile, and recording is not tried again.
    store = SQLiteStore(db)

    class Recording:
        name = label = "recording"
        route = EVERYTHING
        got: list[str] = []

        def send(self, alert, mention):
            self.got.append(alert.id)

    failed = []

    def disk_gone(alert_id, channel):
        failed.append(alert_id)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(store, "mark_delivered", disk_gone)
    with pytest.raises(OSError, match="Input/output error"):
        deliver(store, [Recording()], clock=clock_at(T0))
    assert len(Recording.got) == 1 and failed == Recording.got
    monkeypatch.undo()
    store.close()
    later = SQLiteStore(db)
    assert deliver(later, [Recording()], clock=clock_at(T0)).sent == {"recording": 19}  # claimed: not yet
    assert deliver(later, [Recording()], clock=clock_at(T0 + LEASE * 2)).sent == {"recording": 1}
    later.close()


def stopped_at(read: int) -> type:
    """A channel that takes every alert; after its first send, the run's thread is interrupted (as by
    Ctrl+C) at its `read`-th look at the channel's name: where that thread settles a sender's event."""

    class Stopped:
        label = "stopped"
        route = EVERYTHING
        got: list[str] = []
        reads = 0
        armed = False

        @property
        def name(self):
            if Stopped.armed and threading.current_thread() is threading.main_thread():
                Stopped.reads += 1
                if Stopped.reads == read:
                    raise KeyboardInterrupt
            return "stopped"

        def send(self, alert, mention):
            Stopped.got.append(alert.id)
            Stopped.armed = True

    return Stopped


@pytest.mark.parametrize("read", [1, 2, 3], ids=["taking a sent alert", "recording it", "answering a claim"])
def test_a_run_stopped_as_it_settles_a_senders_event_records_what_was_sent_and_ends(db, read):
    store = SQLiteStore(db)
    channel = stopped_at(read)()
    with pytest.raises(KeyboardInterrupt):
        deliver(store, [channel], clock=clock_at(T0))
    assert len(channel.got) == 1
    assert len(store.undelivered_alerts("stopped")) == 19  # the one sent is recorded: not sent again
    assert deliver(store, [channel], clock=clock_at(T0)).sent == {"stopped": 19}  # no claim left behind
    store.close()


def test_the_inbox_link_of_a_hostile_id_is_encoded():
    from monitor.alerts.render import inbox_link

    link = inbox_link("https://earshot.example/", HOSTILE)
    assert "\r" not in link and "\n" not in link and unquote(link.split("#alert-")[1]) == HOSTILE
    assert link.endswith(quote(HOSTILE, safe=""))


# -- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_leaves_no_partial_line_and_the_alert_in_the_outbox(store, tmp_path, monkeypatch):
    store.ingest([MENTION], [])
    store.add_alert(WARNING)
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"id": "earlier"}\n', encoding="utf-8")
    channel = JsonlChannel(path)
    real_write = os.write

    def disk_full(fd, data):
        if fd > 2 and len(data) > 20:
            real_write(fd, data[: len(data) // 2])  # the disk takes half the line, then is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full)
    report = deliver(store, [channel])
    assert "No space left on device" in report.failed[channel.name]
    assert path.read_text(encoding="utf-8") == '{"id": "earlier"}\n'
    assert [a.id for a in store.undelivered_alerts(channel.name)] == [WARNING.id]

    monkeypatch.setattr(os, "write", real_write)  # space freed
    assert deliver(store, [channel]).sent == {channel.name: 1}
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["earlier", WARNING.id]
    assert lines[1]["idempotency_key"] == idempotency_key(WARNING.id, channel.name)


def test_an_alert_with_a_hostile_id_opens_in_the_ui_and_the_api(store, tmp_path):
    from fastapi.testclient import TestClient

    from monitor.web.app import create_app
    from tests.conftest import demo_config

    bad, _ = hostile_alerts(store)
    app = create_app(demo_config(tmp_path), store, environ={"EARSHOT_WEB_TOKEN": "t0ken"})
    api = TestClient(app, headers={"Authorization": "Bearer t0ken"})
    response = api.get(f"/api/alerts/{quote(bad.id, safe='')}")
    assert response.status_code == 200 and response.json()["id"] == bad.id
    page = api.get(f"/alerts/{quote(bad.id, safe='')}")
    assert page.status_code == 200
