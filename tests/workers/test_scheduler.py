"""The scheduler goes on when a periodic job cannot be enqueued (Redis down)."""

from __future__ import annotations

import pytest

from workers import scheduler


@pytest.fixture
def app_config(own_redis):
    """A Redis of the test's own, which the test stops."""
    return {"REDIS_URL": own_redis.url}


@pytest.mark.redis
def test_a_round_with_redis_down_is_logged_and_the_next_one_enqueues(app, own_redis, caplog):
    own_redis.stop()
    scheduler.run(once=True)  # used to raise and end `helpdesk scheduler`
    assert "could not run or be enqueued" in caplog.text
    own_redis.start()
    scheduler.run(once=True)
    from rq import Queue

    connection = app.extensions["helpdesk_redis"][own_redis.url]
    assert Queue("outbound", connection=connection).count >= 1  # delivery.requeue
