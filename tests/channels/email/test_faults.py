"""Faults on the way in: the IMAP connection drops mid-batch, the database refuses one
mail, two workers poll at once. Nothing lost, nothing doubled."""

from __future__ import annotations

import threading

import pytest
from imapclient import SEEN
from sqlalchemy import func, select, text

from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.email.inbound import Mailbox, receive
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.email import DroppingProxy, deliver, make_mail

pytestmark = pytest.mark.slow  # Dovecot


def _subjects() -> list[str]:
    """Subjects of the stored messages, sorted (duplicates would show twice)."""
    db.session.rollback()  # end this session's snapshot: other workers have committed since
    return sorted(db.session.execute(select(Message.subject)).scalars())


@pytest.mark.parametrize("cut_after", [900, 8000, 20000, 35000])
def test_connection_dropped_mid_batch_loses_and_doubles_nothing(app, imap, smtp_server, cut_after):
    proxy = DroppingProxy(imap.port, limit=cut_after)
    try:
        url = imap.url().replace(f":{imap.port}/", f":{proxy.port}/")
        channel = add_mailbox(
            "Support", url, f"smtp://127.0.0.1:{smtp_server.port}", "support@example.com"
        )
        db.session.commit()
        subjects = [f"request {n:02d}" for n in range(12)]
        for subject in subjects:
            deliver(imap, make_mail(subject=subject, text="A line of text.\n" * 200))
        first = email_imap.poll_mailbox(channel.id, batch=4)
        assert first.error is not None and proxy.cuts == 1
        assert first.stored < 12
        proxy.limit = None  # the network is back
        second = email_imap.poll_mailbox(channel.id, batch=4)
        assert second.error is None
        assert _subjects() == subjects
        assert db.session.scalar(select(func.count(Ticket.id))) == 12
        client = imap.client()
        client.select_folder("INBOX", readonly=True)
        assert all(SEEN in f for f in client.get_flags(client.search(["ALL"])).values())
        client.logout()
    finally:
        proxy.close()


def _poison(reviewed_too: bool) -> None:
    """A real database fault: inserting a message with subject 'poison' fails."""
    condition = "NEW.subject = 'poison'" + (
        "" if reviewed_too else " AND NEW.review_reason IS NULL"
    )
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text(
                "CREATE OR REPLACE FUNCTION email_test_poison() RETURNS trigger AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END; "
                "$$ LANGUAGE plpgsql"
            )
        )
        db.session.execute(
            text(
                "CREATE TRIGGER email_test_poison BEFORE INSERT ON messages "
                "FOR EACH ROW EXECUTE FUNCTION email_test_poison()"
            )
        )
    else:
        db.session.execute(
            text(
                f"CREATE TRIGGER email_test_poison BEFORE INSERT ON messages WHEN {condition} "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )
        )
    db.session.commit()


def _cure() -> None:
    """Remove the fault again."""
    db.session.rollback()
    db.session.execute(
        text(
            "DROP TRIGGER IF EXISTS email_test_poison"
            + (" ON messages" if db.engine.dialect.name == "postgresql" else "")
        )
    )
    db.session.commit()


def test_database_refusing_one_mail_stores_the_others_and_retries_it(mailbox, imap):
    for subject in ("first", "poison", "third"):
        deliver(imap, make_mail(subject=subject))
    _poison(reviewed_too=True)
    try:
        result = email_imap.poll()[0]
        assert (result.stored, result.failed) == (2, 1)
        again = email_imap.poll()[0]
        assert (again.fetched, again.failed) == (1, 1)  # retried, still refused
    finally:
        _cure()
    client = imap.client()
    client.select_folder("INBOX", readonly=True)
    unseen = client.search(["UNSEEN"])
    client.logout()
    assert len(unseen) == 1  # not marked before it is stored
    state = db.session.get(Channel, mailbox.id).state
    assert state["retry"] == {str(unseen[0]): 2}
    healed = email_imap.poll()[0]
    assert (healed.stored, healed.failed) == (1, 0)
    assert _subjects() == ["first", "poison", "third"]
    assert db.session.get(Channel, mailbox.id).state["retry"] == {}
    assert email_imap.poll()[0].fetched == 0


def test_mail_that_keeps_failing_is_stored_raw_for_a_person(mailbox, imap):
    raw = make_mail(subject="poison", text="the customer's words")
    deliver(imap, raw)
    _poison(reviewed_too=False)
    try:
        for _ in range(email_imap.MAX_ATTEMPTS - 1):
            assert email_imap.poll()[0].failed == 1
        last = email_imap.poll()[0]
    finally:
        _cure()
    assert (last.stored, last.failed) == (1, 0)
    message = db.session.execute(select(Message)).scalar_one()
    assert message.needs_review and "storing it failed 5 times" in message.review_reason
    assert "poisoned row" in message.review_reason
    assert "the customer's words" in message.body_text
    assert db.session.get(Ticket, message.ticket_id).contact == "ada@example.com"


def _in_thread(app, target, results, *args) -> threading.Thread:
    """Run ``target`` in a thread of its own with its own app context (a second worker)."""

    def run():
        with app.app_context():
            try:
                results.append(target(*args))
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_same_mailbox_polled_twice_at_once(app, mailbox, imap):
    subjects = [f"parallel {n:02d}" for n in range(30)]
    for subject in subjects:
        deliver(imap, make_mail(subject=subject))
    results: list = []
    threads = [_in_thread(app, email_imap.poll_mailbox, results, mailbox.id) for _ in range(2)]
    for thread in threads:
        thread.join(60)
    assert len(results) == 2 and all(r.error is None for r in results)
    assert sum(r.stored for r in results) == 30
    assert _subjects() == subjects
    assert "lease" not in db.session.get(Channel, mailbox.id).state


def test_a_lease_left_by_a_dead_worker_expires(mailbox, imap):
    channel = db.session.get(Channel, mailbox.id)
    channel.state = {"lease": {"token": "dead-worker", "until": 0}}
    db.session.commit()
    deliver(imap, make_mail(subject="after the crash"))
    assert email_imap.poll()[0].stored == 1


def test_the_same_mail_ingested_by_two_workers_at_once_is_stored_once(app, mailbox):
    mails = [make_mail(subject=f"race {n}") for n in range(15)]
    box = Mailbox.of(mailbox)

    def receive_all():
        return [receive(box, raw).outcome for raw in mails]

    results: list = []
    threads = [_in_thread(app, receive_all, results) for _ in range(2)]
    for thread in threads:
        thread.join(60)
    outcomes = results[0] + results[1]
    assert outcomes.count("stored") == 15 and outcomes.count("duplicate") == 15
    assert _subjects() == sorted(f"race {n}" for n in range(15))
