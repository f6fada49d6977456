"""Retention: raw sources and spooled webhook bodies older than
HELPDESK_RAW_RETENTION_DAYS are dropped, in batches; the messages stay."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from helpdesk import unit_of_work
from helpdesk.audit import retention
from helpdesk.audit.models import AuditEvent
from helpdesk.config import from_environment
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, MessageSource


def sources() -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(select(MessageSource.message_id)))


def age(message_ids, days: int) -> None:
    """Make these messages' sources look ``days`` old."""
    with unit_of_work.write_phase():
        db.session.execute(
            update(MessageSource)
            .where(MessageSource.message_id.in_(message_ids))
            .values(created_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


def test_the_default_is_ninety_days_and_the_environment_changes_it(tmp_path, monkeypatch):
    monkeypatch.delenv("HELPDESK_RAW_RETENTION_DAYS", raising=False)
    assert from_environment(tmp_path)["RAW_RETENTION_DAYS"] == 90
    monkeypatch.setenv("HELPDESK_RAW_RETENTION_DAYS", "30")
    assert from_environment(tmp_path)["RAW_RETENTION_DAYS"] == 30


def test_old_sources_go_in_batches_and_the_messages_stay(app, inbound):
    messages = [
        inbound(
            "email", f"p{n}@example.com", f"Mail {n}", subject=f"S{n}", raw=b"raw %d" % n
        ).message.id
        for n in range(7)
    ]
    assert sources() == set(messages)
    old, fresh = messages[:5], messages[5:]
    age(old, 91)
    age(fresh[:1], 89)

    assert retention.run(batch=2) == {"message_sources": 5, "spooled_requests": 0}
    assert sources() == set(fresh)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 7
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run"))
    assert (
        event.after["message_sources"] == 5 and event.after["days"] == 90 and event.agent_id is None
    )

    assert retention.run() == {"message_sources": 0, "spooled_requests": 0}
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "retention.run")
        )
        == 1
    )  # nothing dropped, nothing recorded


def test_the_retention_period_is_configurable(app, inbound):
    app.config["RAW_RETENTION_DAYS"] = 10
    message = inbound("email", "ann@example.com", "Hello", subject="Hi", raw=b"raw").message
    age([message.id], 9)
    assert retention.run()["message_sources"] == 0
    age([message.id], 11)
    assert retention.run()["message_sources"] == 1
    assert sources() == set()


def test_old_unhandled_webhook_requests_go_from_the_spool(app):
    failed = os.path.join(app.config["SPOOL_DIR"], "failed")
    os.makedirs(failed, exist_ok=True)
    old = os.path.join(failed, "old.json")
    fresh = os.path.join(failed, "fresh.json")
    for path in (old, fresh):
        with open(path, "w") as handle:
            json.dump({"kind": "sms", "body": "", "query": ""}, handle)
    then = time.time() - 91 * 86400
    os.utime(old, (then, then))

    assert retention.run() == {"message_sources": 0, "spooled_requests": 1}
    assert not os.path.exists(old) and os.path.exists(fresh)


def test_the_command_runs_it_now(app, inbound):
    message = inbound("email", "ann@example.com", "Hello", subject="Hi", raw=b"raw").message
    age([message.id], 100)
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"message_sources": 1, "spooled_requests": 0}
    assert sources() == set()


def test_the_scheduler_runs_it():
    from workers import scheduler

    assert any(path == "helpdesk.audit.retention:run" for _, path, _ in scheduler.PERIODIC)


def test_the_migration_gives_existing_sources_their_message_time(app, inbound):
    from flask_migrate import downgrade, upgrade

    message = inbound("email", "ann@example.com", "Hello", subject="Hi", raw=b"raw").message
    with unit_of_work.write_phase():
        db.session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(created_at=utcnow() - timedelta(days=200))
        )
        db.session.commit()
    message_id = message.id
    db.session.remove()  # no transaction of ours open: the downgrade drops tables
    downgrade(revision="h16d0001")  # before message_sources.created_at
    try:
        db.session.remove()
    finally:
        upgrade()
    db.session.expire_all()
    assert retention.run()["message_sources"] == 1  # 200 days old, as its message
    assert db.session.get(Message, message_id) is not None
