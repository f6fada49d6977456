"""Polling a real Dovecot: new mail becomes tickets once, is marked after it is stored,
UIDVALIDITY changes fall back to Message-ID, and the CLI and scheduler reach it."""

from __future__ import annotations

import pytest
from imapclient import SEEN
from sqlalchemy import func, select

from helpdesk.channels.email import imap as email_imap
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, MessageSource, Ticket
from tests.fixtures.email import deliver, make_mail


def _count(model) -> int:
    """Rows of ``model``."""
    return db.session.scalar(select(func.count()).select_from(model))


def _flags(server, user="support", folder="INBOX") -> dict:
    """UID -> flags of a folder."""
    client = server.client(user)
    client.select_folder(folder, readonly=True)
    flags = client.get_flags(client.search(["ALL"]))
    client.logout()
    return flags


@pytest.mark.slow
def test_poll_makes_tickets_matched_to_customers_and_marks_mail_seen(mailbox, imap, make_customer):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    deliver(imap, make_mail(sender="ADA@Example.com", subject="Order 123 is late"))
    deliver(
        imap,
        make_mail(
            sender="bob@example.org",
            name="Bob Builder",
            subject="Invoice",
            html="<p>Hi <script>alert(1)</script><b>there</b></p>",
        ),
    )
    [result] = email_imap.poll()
    assert (result.fetched, result.stored, result.error) == (2, 2, None)
    tickets = db.session.execute(select(Ticket).order_by(Ticket.id)).scalars().all()
    assert [t.subject for t in tickets] == ["Order 123 is late", "Invoice"]
    assert tickets[0].customer_id == ada.id
    assert tickets[1].customer.name == "Bob Builder"
    assert all(t.channel_id == mailbox.id and t.team.name == "Support" for t in tickets)
    bob_message = db.session.execute(
        select(Message).where(Message.ticket_id == tickets[1].id)
    ).scalar_one()
    assert "<script>" not in bob_message.body_html and "<b>there</b>" in bob_message.body_html
    assert _count(MessageSource) == 2
    assert all(SEEN in flags for flags in _flags(imap).values())
    state = db.session.get(Channel, mailbox.id).state
    assert state["last_uid"] == 2 and "lease" not in state and state["last_error"] is None
    again = email_imap.poll()[0]
    assert (again.fetched, again.stored) == (0, 0)
    assert _count(Message) == 2


@pytest.mark.slow
def test_first_poll_takes_unseen_mail_only_and_later_polls_all_new_mail(mailbox, imap):
    deliver(imap, make_mail(subject="old and read"), flags=[SEEN])
    deliver(imap, make_mail(subject="waiting"))
    assert email_imap.poll()[0].stored == 1
    deliver(imap, make_mail(subject="read in webmail before we polled"), flags=[SEEN])
    assert email_imap.poll()[0].stored == 1
    subjects = set(db.session.execute(select(Ticket.subject)).scalars())
    assert subjects == {"waiting", "read in webmail before we polled"}


@pytest.mark.slow
def test_processed_folder_gets_the_stored_mail(app, imap, smtp_server):
    from helpdesk.channels.email.mailboxes import add_mailbox

    add_mailbox(
        "Sales",
        imap.url(),
        f"smtp://127.0.0.1:{smtp_server.port}",
        "sales@example.com",
        processed_folder="Done",
    )
    db.session.commit()
    for n in range(3):
        deliver(imap, make_mail(subject=f"question {n}"))
    assert email_imap.poll("Sales")[0].stored == 3
    assert _flags(imap) == {}
    assert len(_flags(imap, folder="Done")) == 3
    assert email_imap.poll("Sales")[0].fetched == 0


@pytest.mark.slow
def test_uidvalidity_change_does_not_import_the_mailbox_again(app, imap, smtp_server):
    from helpdesk.channels.email.mailboxes import add_mailbox

    client = imap.client()
    client.create_folder("Queue")
    client.logout()
    channel = add_mailbox(
        "Queue",
        imap.url(folder="Queue"),
        f"smtp://127.0.0.1:{smtp_server.port}",
        "queue@example.com",
    )
    db.session.commit()
    mails = [make_mail(subject=f"request {n}") for n in range(4)]
    for raw in mails[:3]:
        deliver(imap, raw, folder="Queue")
    assert email_imap.poll()[0].stored == 3
    old = db.session.get(Channel, channel.id).state["uidvalidity"]
    # The folder is rebuilt (a server migration): same mail, new UIDs, new UIDVALIDITY,
    # and the flags lost on the way.
    client = imap.client()
    client.create_folder("Rebuilt")
    for raw in mails[:3]:
        client.append("Rebuilt", raw)
    client.delete_folder("Queue")
    client.rename_folder("Rebuilt", "Queue")
    client.logout()
    deliver(imap, mails[3], folder="Queue")
    result = email_imap.poll()[0]
    assert result.error is None
    assert db.session.get(Channel, channel.id).state["uidvalidity"] != old
    assert (result.fetched, result.stored) == (1, 1)
    assert _count(Ticket) == 4 and _count(Message) == 4
    assert all(SEEN in flags for flags in _flags(imap, folder="Queue").values()) is False
    assert email_imap.poll()[0].fetched == 0


@pytest.mark.slow
def test_mail_without_message_id_is_stored_once(mailbox, imap):
    raw = (
        b"From: Carol <carol@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: no id\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nHello\r\n"
    )
    deliver(imap, raw)
    deliver(imap, raw)  # the same bytes twice: one mail delivered twice
    result = email_imap.poll()[0]
    assert (result.fetched, result.stored, result.duplicates) == (2, 1, 1)
    message = db.session.execute(select(Message)).scalar_one()
    assert message.external_id.endswith("@no-message-id.invalid>")
    assert message.meta["email"]["message_id_missing"] is True


@pytest.mark.slow
def test_mail_from_our_own_address_is_never_a_customer_message(mailbox, imap):
    deliver(imap, make_mail(sender="support@example.com", subject="our own"))
    deliver(imap, make_mail(sender="ada@example.com", subject="a customer"))
    result = email_imap.poll()[0]
    assert (result.stored, result.own) == (1, 1)
    assert list(db.session.execute(select(Ticket.subject)).scalars()) == ["a customer"]
    assert all(SEEN in flags for flags in _flags(imap).values())


@pytest.mark.slow
def test_cli_adds_a_mailbox_and_polls_it_without_showing_passwords(app, imap, smtp_server, caplog):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "mailbox",
            "add",
            "Help",
            "--imap-url",
            imap.url(),
            "--smtp-url",
            f"smtp://mailer:s3cr3t-smtp@127.0.0.1:{smtp_server.port}",
            "--address",
            "Help@Example.com",
            "--team",
            "Tier 1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "secret" not in result.output and "s3cr3t" not in result.output
    assert "imap://support:****@127.0.0.1" in result.output
    channel = db.session.execute(select(Channel).where(Channel.name == "Help")).scalar_one()
    assert channel.address == "help@example.com" and channel.team.name == "Tier 1"
    assert "secret" not in str(channel.settings) and "secret" not in str(channel.public())
    deliver(imap, make_mail(subject="via the CLI"))
    result = runner.invoke(args=["mail", "poll", "--mailbox", "Help"])
    assert result.exit_code == 0, result.output
    assert "1 fetched, 1 stored" in result.output
    listing = runner.invoke(args=["mailbox", "list"]).output
    assert "Help <help@example.com>" in listing and "secret" not in listing
    assert "s3cr3t" not in caplog.text and "secret" not in caplog.text
    bad = runner.invoke(
        args=[
            "mailbox",
            "add",
            "Bad",
            "--imap-url",
            "ftp://u:pw123@h/",
            "--smtp-url",
            "smtp://h",
            "--address",
            "bad@example.com",
        ]
    )
    assert bad.exit_code != 0 and "pw123" not in bad.output
    wrong = runner.invoke(
        args=[
            "mailbox",
            "add",
            "Wrong",
            "--imap-url",
            imap.url().replace(":secret@", ":wrong-pw@"),
            "--smtp-url",
            "smtp://h",
            "--address",
            "wrong@example.com",
        ]
    )
    assert wrong.exit_code != 0 and "wrong-pw" not in wrong.output
    assert _count(Channel) == 1


def test_poll_of_an_unreachable_server_records_the_error(app, smtp_server):
    from helpdesk.channels.email.mailboxes import add_mailbox
    from tests.fixtures.email import free_port

    add_mailbox(
        "Down",
        f"imap://u:topsecret@127.0.0.1:{free_port()}/INBOX",
        f"smtp://127.0.0.1:{smtp_server.port}",
        "down@example.com",
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["mail", "poll"])
    assert result.exit_code == 1 and "Down:" in result.output
    assert "topsecret" not in result.output
    state = db.session.execute(select(Channel)).scalar_one().state
    assert state["last_error"] and "lease" not in state


@pytest.mark.slow
def test_scheduler_lists_a_mail_poll_and_the_job_polls_every_mailbox(mailbox, imap):
    from workers import scheduler

    assert any(
        path == "helpdesk.channels.email.imap:poll_all" and queue == "mail"
        for _, path, queue in scheduler.PERIODIC
    )
    deliver(imap, make_mail(subject="scheduled"))
    assert email_imap.poll_all() == 1  # without Redis the poll runs right here
    assert _count(Ticket) == 1


@pytest.mark.slow
def test_mail_that_cannot_be_parsed_is_stored_raw_and_flagged(mailbox, imap):
    raw = b"\x00\x01 this is not a mail at all \xff\xfe\r\nno headers, no body\r\n"
    deliver(imap, raw)
    result = email_imap.poll()[0]
    assert (result.stored, result.failed) == (1, 0)
    message = db.session.execute(select(Message)).scalar_one()
    assert message.needs_review and "could not be parsed" in message.review_reason
    assert "this is not a mail at all" in message.body_text
    source = db.session.execute(select(MessageSource.raw)).scalar_one()
    assert b"this is not a mail at all" in source
    assert db.session.get(Ticket, message.ticket_id).status == "new"


@pytest.mark.slow
def test_idle_polls_when_the_server_announces_new_mail(app, mailbox, imap):
    import threading
    import time

    from helpdesk.channels.email.idle import watch

    stop = threading.Event()
    polls: list = []
    channel_id = mailbox.id  # read here: the fixture's object belongs to this thread's session

    def run():
        with app.app_context():
            polls.append(watch(channel_id, stop, fallback_seconds=600))
            db.session.remove()

    def read(query):
        """Read on a connection of its own: the session stays out of the watcher's way."""
        with db.engine.connect() as connection:
            return connection.execute(query).all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        state = select(Channel.state).where(Channel.id == channel_id)
        while time.monotonic() < deadline:  # the first poll is done
            if (read(state)[0][0] or {}).get("uidvalidity"):
                break
            time.sleep(0.05)
        # Whether it lands before IDLE began (seen in SELECT's UIDNEXT) or while IDLE waits
        # (announced), the mail is fetched by a second poll at once, not at IDLE's timeout.
        deliver(imap, make_mail(subject="pushed"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not read(select(Ticket.subject)):
            time.sleep(0.2)
        assert [row[0] for row in read(select(Ticket.subject))] == ["pushed"]
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive() and polls[0] >= 2


def test_mail_that_came_between_the_poll_and_idle_is_polled_at_once():
    """The race behind the flake of the test above: a mail delivered after the poll's
    search and before IDLE started is seen in SELECT's UIDNEXT, and polled."""
    from helpdesk.channels.email.idle import arrived_since_poll

    polled = {"uidvalidity": 7, "last_uid": 41}
    assert arrived_since_poll({b"UIDNEXT": 43, b"UIDVALIDITY": 7}, polled)
    assert not arrived_since_poll({b"UIDNEXT": 42, b"UIDVALIDITY": 7}, polled)
    assert not arrived_since_poll({b"UIDNEXT": 99, b"UIDVALIDITY": 8}, polled)  # a new folder
    assert not arrived_since_poll({b"UIDNEXT": 99, b"UIDVALIDITY": 7}, {})  # never polled


def test_batches_fetched_while_the_read_pool_starts_are_read_in_process(app):
    """The poll does not wait for the pool's start: a batch before it runs is read by the
    poll itself (None), a batch after it in the workers. (Before the test below, which
    leaves this process's fork server running: here it starts, importing the app.)"""
    from helpdesk.channels.email import reader
    from helpdesk.channels.email.inbound import Mailbox

    channel = Mailbox(id=1, name="Support", address="support@example.com")
    mails = [make_mail(subject=f"Order {n}") for n in range(3)]
    with reader.Reader(2, 2, reader.MIN_MAILS) as pool:
        early = pool.start(channel, mails)  # the fork server is still importing the app
        assert pool.ready.wait(60) and pool.pool is not None
        late = pool.start(channel, mails)
        assert early.result({}) == [None, None, None]
        timings: dict = {}
        assert [m.subject for m in late.result(timings)] == ["Order 0", "Order 1", "Order 2"]
        assert timings["read_workers"] > 0
    assert pool.pool is None  # stopped


def _die(*args):
    """A read pool worker killed in the middle of a batch."""
    import os

    os._exit(1)


@pytest.mark.slow
def test_a_poll_reads_batches_in_worker_processes_and_in_process_when_they_die(
    app, mailbox, imap, monkeypatch, caplog
):
    from helpdesk.channels.email import reader
    from helpdesk.channels.email.parse import parse
    from helpdesk.tickets.html import clean_html

    monkeypatch.setitem(app.config, "MAIL_READ_PROCESSES", 2)
    monkeypatch.setattr(reader, "MIN_MAILS", 2)  # a pool for two mails, one a batch
    monkeypatch.setattr(reader, "READ_WHILE_STARTING", False)  # every batch in the pool
    html = make_mail(sender="bob@example.org", html="<p>Hi <script>x()</script><b>there</b></p>")
    broken = b"\x00\x01 this is not a mail at all \xff\xfe\r\nno headers\r\n"
    deliver(imap, html)
    deliver(imap, broken)
    timings: dict = {}
    result = email_imap.poll_mailbox(mailbox.id, timings=timings, batch=1)
    assert (result.stored, result.failed) == (2, 0) and timings["read_workers"] > 0
    first, flagged = db.session.execute(select(Message).order_by(Message.id)).scalars()
    assert first.body_html == clean_html(parse(html).html) and "<script>" not in first.body_html
    assert flagged.needs_review and "could not be parsed" in flagged.review_reason
    raws = select(MessageSource.raw).where(MessageSource.message_id == flagged.id)
    assert b"this is not a mail at all" in db.session.scalar(raws)  # as the poll keeps it
    monkeypatch.setattr(reader, "read_batch", _die)
    for n in range(2):
        deliver(imap, make_mail(sender=f"customer{n}@example.com", subject=f"Order {n}"))
    result = email_imap.poll_mailbox(mailbox.id, batch=1)
    assert (result.stored, result.failed) == (2, 0) and "read pool failed" in caplog.text
    assert _count(Message) == 4 and all(SEEN in flags for flags in _flags(imap).values())


@pytest.mark.slow
def test_large_mail_is_fetched_in_smaller_batches(mailbox, imap, monkeypatch):
    big = b"x" * 300_000
    for n in range(3):
        deliver(
            imap, make_mail(subject=f"scan {n}", attachments=[("scan.pdf", "application/pdf", big)])
        )
    client = imap.client()
    client.select_folder("INBOX")
    uids = client.search(["ALL"])
    sizes = email_imap._sizes(client, uids)
    assert email_imap._batches(uids, sizes, 50, 2**30) == [uids]
    monkeypatch.setattr(email_imap, "MAX_BATCH_BYTES", 500_000)  # room for one mail at a time
    assert email_imap._batches(uids, sizes, 50, 2**30) == [[uid] for uid in uids]
    client.logout()
    assert email_imap.poll()[0].stored == 3
    assert all(
        len(m.attachments) == 1 and m.attachments[0].size == len(big)
        for m in db.session.execute(select(Message)).scalars()
    )


@pytest.mark.slow
def test_a_poll_ingests_its_fetch_as_a_batch_and_a_poisoned_mail_alone(
    mailbox, imap, make_customer, monkeypatch, caplog
):
    from sqlalchemy import event

    from helpdesk.tickets import ingest as ingest_module

    make_customer("Mallory", emails=["mallory@example.com"])

    def poison(inbound, customer):
        if "poison" in (inbound.text or ""):
            raise ValueError("this mail breaks ingest")

    monkeypatch.setattr(ingest_module, "_CLAIMS", [poison])
    question = make_mail(sender="ada@example.com", subject="Kettle", message_id="<k@example.com>")
    deliver(imap, question)
    poisoned = deliver(imap, make_mail(sender="mallory@example.com", text="poison"))
    reply = {"In-Reply-To": "<k@example.com>"}
    deliver(imap, make_mail(sender="bob@example.com", subject="Re: Kettle", headers=reply))
    deliver(imap, make_mail(sender="ada@example.com", subject="Re: Kettle"))
    [result] = email_imap.poll()
    assert (result.fetched, result.stored, result.failed) == (4, 3, 1)
    assert "one at a time" in caplog.text  # the batch came first, then each alone
    kettle = db.session.scalar(select(Ticket).where(Ticket.subject == "Kettle"))
    assert kettle.message_count == 3  # the reply and the answer of one fetch, threaded
    assert db.session.get(Channel, mailbox.id).state["retry"] == {str(poisoned): 1}
    monkeypatch.setattr(ingest_module, "_CLAIMS", [])
    caplog.clear()
    for n in range(6):
        deliver(imap, make_mail(sender=f"customer{n}@example.com", subject=f"Order {n}"))
    commits: list[object] = []
    transactions: list[int] = []  # for each message INSERT, the commits before it

    def committed(connection) -> None:
        commits.append(connection)

    def statement(connection, cursor, sql, *args) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO MESSAGES "):
            transactions.append(len(commits))

    event.listen(db.engine, "commit", committed)
    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        [again] = email_imap.poll()
    finally:
        event.remove(db.engine, "commit", committed)
        event.remove(db.engine, "before_cursor_execute", statement)
    assert (again.fetched, again.stored, again.failed) == (7, 7, 0)  # the poisoned one too
    assert "one at a time" not in caplog.text
    assert len(set(transactions)) == 1  # all 7 in one transaction
    assert _count(Message) == 10
