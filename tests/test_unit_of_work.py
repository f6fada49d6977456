"""Side effects wait for the commit, and vanish with a rollback."""

from helpdesk import unit_of_work
from helpdesk.customers.models import Customer
from helpdesk.extensions import db


def test_action_runs_only_after_commit(app):
    seen = []
    db.session.add(Customer(name="A", tags=[], custom_fields={}))
    unit_of_work.after_commit(lambda: seen.append(db.session.query(Customer).count()))
    db.session.flush()
    assert seen == []
    unit_of_work.commit()
    assert seen == [1]  # ran after the commit, and could read the committed row


def test_rollback_forgets_actions(app):
    seen = []
    unit_of_work.after_commit(lambda: seen.append("sent"))
    db.session.rollback()
    unit_of_work.commit()
    assert seen == []


def test_failing_action_does_not_stop_the_others(app, caplog):
    seen = []
    unit_of_work.after_commit(lambda: 1 / 0)
    unit_of_work.after_commit(lambda: seen.append("second"))
    unit_of_work.commit()
    assert seen == ["second"]
    assert "after-commit action" in caplog.text
