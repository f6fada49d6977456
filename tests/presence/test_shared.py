"""The Redis store (helpdesk/presence/shared.py): two stores are two web processes on one
Redis; an entry nobody refreshes expires, and the sweep marks its agent offline."""

from __future__ import annotations

import threading

import pytest

from helpdesk import presence
from helpdesk.agents.models import Agent
from helpdesk.extensions import db
from helpdesk.presence import heartbeat, status
from helpdesk.presence.shared import SharedPresence

pytestmark = pytest.mark.redis  # the real Redis

TTL = 0.8  # seconds: entries of a "process" that stops beating expire this fast


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "PRESENCE_TTL_SECONDS": TTL}


@pytest.fixture
def processes(redis_url):
    """Two stores on the same Redis, as two web processes would have."""
    made = [SharedPresence(redis_url, TTL), SharedPresence(redis_url, TTL)]
    yield made
    for store in made:
        store.close()


def until(condition, timeout: float = 5.0):
    """Wait for ``condition()`` to be truthy (entries expire by Redis's clock); return it."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        value = condition()
        if value:
            return value
        pause.wait(0.02)
    raise AssertionError("condition not met in time")


def test_an_agent_is_connected_while_any_process_holds_a_connection(processes):
    a, b = processes
    assert a.connect("a1", 7) is True  # the first connection anywhere
    assert a.connect("a2", 7) is False
    assert b.connect("b1", 7) is False  # already connected through a
    assert b.connections(7) == 3
    assert sorted(a.all_sids(7)) == ["a1", "a2", "b1"]
    assert a.disconnect("a1") == (7, False, [])
    assert a.disconnect("a2") == (7, True, [])  # a's last, but b still holds the agent
    assert a.release(7) is False
    assert b.connections(7) == 1
    assert b.disconnect("b1") == (7, True, [])
    assert b.release(7) is True  # nobody left: b marks the agent offline ...
    assert a.all_sids(7) == []
    assert a.release(7) is False and b.claim_gone(7) is False  # ... and nobody else
    assert a.connect("a3", 7) is True  # back: first again


def test_a_process_that_stops_beating_loses_its_agents_once_its_entries_expire(processes):
    dead, alive = processes
    dead.connect("d1", 5)
    alive.connect("l1", 6)
    assert alive.gone_agents() == []
    # The dead process never beats again; the live one does.
    assert until(lambda: (alive.beat(), alive.gone_agents())[1]) == [5]
    assert alive.connections(6) == 1
    assert alive.all_sids(5) == [] and alive.all_sids(6) == ["l1"]  # only live processes'
    assert alive.claim_gone(5) is True
    assert alive.claim_gone(5) is False and alive.gone_agents() == []  # claimed once
    assert alive.connect("l2", 5) is True  # the agent connecting again is a first


def test_viewers_cross_processes_and_a_dead_process_viewers_expire(processes):
    dead, alive = processes
    dead.connect("d1", 1)
    alive.connect("l1", 2)
    alive.connect("l2", 1)
    assert dead.view(40, "d1", {"id": 1, "name": "Pat", "typing": True})
    assert alive.view(40, "l1", {"id": 2, "name": "Kim", "typing": False})
    assert alive.view(40, "l2", {"id": 1, "name": "Pat", "typing": False})
    assert not alive.view(40, "gone", {"id": 3, "name": "Nobody", "typing": False})
    seen = sorted(alive.viewers(40), key=lambda v: v["id"])
    assert seen == [
        {"id": 1, "name": "Pat", "typing": True},
        {"id": 2, "name": "Kim", "typing": False},
    ]
    assert until(lambda: (alive.beat(), alive.stale_tickets())[1]) == [40]
    assert sorted((v["id"], v["typing"]) for v in dead.viewers(40)) == [(1, False), (2, False)]
    assert alive.disconnect("l1") == (2, True, [40])  # leaving tells the ticket
    assert alive.unview(40, "l2") is True and alive.viewers(40) == []
    assert alive.stale_tickets() == []


def test_the_sweep_marks_a_dead_process_agents_offline_and_tells_the_listeners(
    app, make_agent, processes
):
    pat = make_agent("pat@example.com")
    kim = make_agent("kim@example.com")
    dead, _ = processes
    store = presence.of(app)  # this app's process, which stays alive
    assert dead.connect("d1", pat.id) is True
    status.set_presence(pat.id, "online")
    assert store.connect("k1", kim.id) is True
    status.set_presence(kim.id, "away")
    told: list[tuple[int, str]] = []
    status.LISTENERS.append(lambda agent_id, now: told.append((agent_id, now)))
    try:
        swept = until(lambda: (store.beat(), heartbeat.sweep(store)[0])[1])
        assert heartbeat.sweep(store) == ([], [])  # once
    finally:
        status.LISTENERS.pop()
    assert swept == [pat.id] and told == [(pat.id, "offline")]
    db.session.rollback()
    assert (db.session.get(Agent, pat.id).presence, db.session.get(Agent, kim.id).presence) == (
        "offline",
        "away",
    )


def test_a_process_that_stalled_past_the_expiry_marks_its_connected_agent_online_again(
    app, make_agent, processes
):
    kim = make_agent("kim@example.com")
    stalled, other = presence.of(app), processes[0]
    assert stalled.connect("k1", kim.id) is True
    status.set_presence(kim.id, "online")
    # The stalled process does not beat; the other one's sweep takes Kim for gone.
    assert until(lambda: heartbeat.sweep(other)[0]) == [kim.id]
    db.session.rollback()
    assert db.session.get(Agent, kim.id).presence == "offline"
    lapsed = stalled.beat()
    assert lapsed == [kim.id]
    heartbeat.revive(stalled, lapsed)
    db.session.rollback()
    assert db.session.get(Agent, kim.id).presence == "online"
    assert stalled.beat() == [] and other.gone_agents() == []
