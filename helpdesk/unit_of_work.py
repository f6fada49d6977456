"""Side effects that must wait for a successful commit.

Services flush; whoever owns the transaction commits once through
:func:`commit`. Socket emits, job enqueues and mail are registered with
:func:`after_commit` while the work is done and run only once the commit has
succeeded; a rollback forgets them, so nothing is ever announced that was not
stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from helpdesk.extensions import db

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)
PENDING = "helpdesk.pending_actions"
# SQLite only: start transactions with BEGIN IMMEDIATE (take the write lock up
# front) so two writers queue on busy_timeout instead of deadlocking on upgrade.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)
READY = "helpdesk.ready_actions"


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` after the current transaction commits; drop it on rollback."""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still forgets the action
    db.session.info.setdefault(PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _promote(session: Session) -> None:
    """Move the actions of the committed transaction to the ready list."""
    pending = session.info.pop(PENDING, None)
    if pending:
        session.info.setdefault(READY, []).extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop the actions of a transaction that did not commit."""
    if previous_transaction.parent is None:
        session.info.pop(PENDING, None)


def run_ready() -> None:
    """Run every action whose transaction has committed, outside the commit event."""
    info = db.session.info
    while info.get(READY):
        action = info[READY].pop(0)
        try:
            action()
        except Exception:  # one failed side effect must not hide the others
            log.exception("after-commit action %r failed", action)


@contextmanager
def writing(intent: bool = True) -> Iterator[None]:
    """Mark transactions begun inside the block as writers (see ``write_intent``); with
    ``intent=False`` as readers, for work that waits on the network (sending mail) and must
    not hold SQLite's write lock meanwhile, even inside a request that declared writes."""
    token = write_intent.set(intent)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextmanager
def write_phase() -> Iterator[None]:
    """Write after reading: on SQLite, end the reading transaction and write in one that
    takes the lock up front (a read transaction upgraded to a write fails at once when
    another writer was first). PostgreSQL carries on in the same transaction."""
    if db.session().in_transaction() and db.engine.dialect.name == "sqlite":
        db.session.commit()
    with writing():
        yield


@contextmanager
def carried_write_phase() -> Iterator[None]:
    """Like ``write_phase``, for a reading transaction that already changed rows in memory
    (a channel adapter recording what it sent): on SQLite those changes are not flushed
    by the reader but taken out, the reader is rolled back, and they are made again in
    a transaction that takes the write lock up front."""
    session = db.session()
    if not (session.in_transaction() and db.engine.dialect.name == "sqlite"):
        with writing():
            yield
        return
    added = list(session.new)
    changed = []
    for obj in session.dirty:
        state = inspect(obj)
        if state.identity is None:
            continue
        values = {attr.key: attr.value for attr in state.attrs if attr.history.has_changes()}
        if values:
            changed.append((type(obj), state.identity, values))
    for obj in added:
        session.expunge(obj)
    session.rollback()
    with writing():
        for model, identity, values in changed:
            obj = session.get(model, identity)
            for key, value in values.items():
                setattr(obj, key, value)
        session.add_all(added)
        yield


@contextmanager
def kept_after_commit() -> Iterator[None]:
    """Commits inside the block leave the session's objects as they were written instead
    of expiring them, for a caller that then reads back only what it has just written
    (the echo of a visitor's chat message) and would otherwise load each row again."""
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before


def commit() -> None:
    """Commit the session, then run what waited for it."""
    db.session.commit()
    run_ready()


def init_app(app: Flask) -> None:
    """Run leftover ready actions at the end of every app context."""

    @app.teardown_appcontext
    def _flush_ready(exc: BaseException | None) -> None:  # pragma: no branch - trivial
        if exc is None:
            run_ready()
