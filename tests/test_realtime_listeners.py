"""Socket.IO's Redis listeners end with their apps, and apps without Redis get none.

Left running, the listener threads of finished test apps shared one manager (Flask-SocketIO
handed an app's Redis manager to every later app), closed each other's Redis connections
("Cannot receive from redis... Connection closed by server") and left sockets unclosed,
whose ResourceWarning then failed whichever test was running.
"""

from __future__ import annotations

import gc
import logging

import pytest
from redis import Redis
from socketio import PubSubManager

from helpdesk import realtime
from helpdesk.extensions import socketio
from tests.fixtures.app import serving
from tests.fixtures.sockets import Recorder

pytestmark = pytest.mark.redis
EARLIER: dict = {}  # what the first test left for the last one to check


def _served_once(app):
    """Connect one Socket.IO client to ``app`` (which starts its Redis listener); return
    the app's client manager."""
    manager = socketio.server.manager
    with serving(app) as url:
        Recorder(url).close()
    return manager


def _subscribers(redis_url: str) -> list[dict]:
    """The Redis server's clients on our database that are subscribed to something."""
    number = int(redis_url.rsplit("/", 1)[1])
    with Redis.from_url(redis_url) as conn:
        return [
            c
            for c in conn.client_list()
            if int(c.get("db", -1)) == number and int(c.get("sub", 0)) + int(c.get("psub", 0)) > 0
        ]


def _numsub(redis_url: str, channel: str) -> int:
    with Redis.from_url(redis_url) as conn:
        return conn.pubsub_numsub(channel)[0][1]


def test_apps_of_a_test_keep_their_listeners_while_it_runs(make_app, redis_url):
    """Three apps with Redis: three listeners, subscribed, until the test ends."""
    apps, managers = [], []
    for _ in range(3):
        apps.append(make_app(REDIS_URL=redis_url))
        managers.append(_served_once(apps[-1]))
    channel = apps[0].config["SOCKETIO_CHANNEL"]
    assert len({id(m) for m in managers}) == 3
    assert all(m.thread.is_alive() for m in managers)
    assert _numsub(redis_url, channel) == 3
    assert len(_subscribers(redis_url)) == 3
    EARLIER.update(managers=managers, channel=channel)


def test_shutdown_ends_the_listener_and_closes_its_connections(make_app, redis_url):
    apps, managers = [], []
    for _ in range(3):
        apps.append(make_app(REDIS_URL=redis_url))
        managers.append(_served_once(apps[-1]))
    channel = apps[0].config["SOCKETIO_CHANNEL"]
    assert _numsub(redis_url, channel) == 3

    for app in apps:
        assert realtime.shutdown(app) is True
    assert not any(m.thread.is_alive() for m in managers)
    assert _numsub(redis_url, channel) == 0
    assert _subscribers(redis_url) == []
    gc.collect()  # an unclosed socket would be a ResourceWarning, an error here
    assert realtime.shutdown(apps[0]) is True  # a second time: nothing left to do


def test_an_app_without_redis_after_one_with_it_gets_no_redis_listener(make_app, redis_url, caplog):
    caplog.set_level(logging.ERROR)
    with_redis = _served_once(make_app(REDIS_URL=redis_url))
    channel = with_redis.channel

    for _ in range(3):
        plain = make_app()
        manager = _served_once(plain)
        assert not isinstance(manager, PubSubManager)
        assert manager is not with_redis
    # Still the one listener, never disconnected by a second one on the same manager.
    assert _numsub(redis_url, channel) == 1
    assert with_redis.thread.is_alive()
    assert not [r for r in caplog.records if "Cannot receive from redis" in r.getMessage()]


def test_the_listeners_of_an_earlier_test_ended_with_it(redis_url):
    """make_app's teardown ended the first test's listeners and their connections."""
    if not EARLIER:
        pytest.skip("runs after test_apps_of_a_test_keep_their_listeners_while_it_runs")
    assert not any(m.thread.is_alive() for m in EARLIER["managers"])
    assert _numsub(redis_url, EARLIER["channel"]) == 0
    assert _subscribers(redis_url) == []
