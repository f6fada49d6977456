"""Campaign test helpers: customers in bulk (Core inserts: hundreds in a blink), a
mailbox on the test SMTP server (no IMAP needed), a segment of everyone."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import insert, select

from helpdesk import unit_of_work
from helpdesk.customers.models import Consent, Customer, Identity
from helpdesk.db import utcnow
from helpdesk.extensions import db


def bulk_customers(
    count: int, consenting=lambda n: True, kind="email", start: int = 0
) -> list[int]:
    """``count`` customers "Customer N" with one address each (``kind``: email or phone),
    the marketing consent of that channel granted where ``consenting(n)``; their ids."""
    now = utcnow()
    purpose = "email_marketing" if kind == "email" else "sms_marketing"
    with unit_of_work.write_phase():
        db.session.execute(
            insert(Customer),
            [
                {
                    "name": f"Customer {n}",
                    "tags": ["news"],
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(start, start + count)
            ],
        )
        ids = list(
            db.session.scalars(
                select(Customer.id).where(Customer.name.like("Customer %")).order_by(Customer.id)
            )
        )[-count:]
        db.session.execute(
            insert(Identity),
            [
                {
                    "customer_id": cid,
                    "kind": kind,
                    "created_at": now,
                    "value": f"c{n}@example.com" if kind == "email" else f"+4915190{n:06d}",
                }
                for n, cid in zip(range(start, start + count), ids, strict=True)
            ],
        )
        db.session.execute(
            insert(Consent),
            [
                {
                    "customer_id": cid,
                    "purpose": purpose,
                    "granted": bool(consenting(n)),
                    "at": now,
                    "source": "test",
                }
                for n, cid in zip(range(start, start + count), ids, strict=True)
            ],
        )
        db.session.commit()
    return ids


def mailbox_on(smtp_server):
    """A mailbox ``News`` <news@example.com> sending through ``smtp_server``."""
    from helpdesk.channels.email.mailboxes import add_mailbox

    with unit_of_work.write_phase():
        channel = add_mailbox(
            "News",
            "imap://127.0.0.1:9/",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "news@example.com",
        )
        db.session.commit()
    return channel


def mails(smtp_server) -> list:
    """What the SMTP server received, parsed."""
    return [
        message_from_bytes(m["data"], policy=policy.default)
        for m in smtp_server.handler_obj.received
    ]
