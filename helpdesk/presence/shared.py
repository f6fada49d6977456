"""Presence and viewers in Redis, shared by every web process (``REDIS_URL`` set).

Keys (``helpdesk:presence:``...), every time Redis's own clock (``TIME``), so machines
whose clocks differ agree:

- ``agent:<id>``: a sorted set of the processes holding a connection of the agent,
  scored with the moment their entry expires (now + ``PRESENCE_TTL_SECONDS``, moved on
  by each heartbeat); ``sockets:<id>``: a hash process -> its connections of the agent;
- ``sids:<id>``: a hash connection (sid) -> process, for closing every connection of
  an agent whose rooms changed (``realtime.disconnect_agent``);
- ``agents``: the ids of agents registered here, which the sweep looks through;
- ``viewers:<ticket>``: a hash "process|sid" -> the viewer (JSON), with
  ``viewers-until:<ticket>`` its expiry moments; ``tickets``: the tickets with viewers;
- ``lock:<id>``: ``agent_lock`` across processes (redis-py's lock, 10 s at most).

An agent is online while any entry of theirs is unexpired. The sweep finds agents with
none left and claims each (``SREM`` from ``agents``: exactly one process wins) under
the agent's lock, then marks them offline. The scripts read keys they build from the
prefix: one Redis, not a cluster.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis
from redis.exceptions import LockError

from helpdesk.presence.store import Presence

log = logging.getLogger(__name__)
PREFIX = "helpdesk:presence:"
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_DROP_DEAD = """
for _, p in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('HDEL', KEYS[2], p)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
"""
# KEYS: agent zset, sockets hash, agents set, sids hash; ARGV: process, count, ttl ms,
# agent id, the new connection's sid (or '').
# Returns how many processes held the agent (unexpired) before this one registered.
_CONNECT = (
    _NOW
    + _DROP_DEAD
    + """
local before = redis.call('ZCARD', KEYS[1])
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[1]) end
redis.call('PEXPIRE', KEYS[4], ttl * 2)
return before
"""
)
# KEYS as _CONNECT; ARGV: process ('' to drop none), agent id. 1 when no process holds
# the agent any more and this call took them off ``agents`` (the one to mark offline).
_RELEASE = (
    _NOW
    + """
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
"""
    + _DROP_DEAD
    + """
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[4])
  return redis.call('SREM', KEYS[3], ARGV[2])
end
return 0
"""
)
# KEYS as _CONNECT. The agent's connections (sids) held by live processes; the others'
# are dropped.
_SIDS = (
    _NOW
    + """
local live = {}
for _, p in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  live[p] = true
end
local sids = {}
local all = redis.call('HGETALL', KEYS[4])
for i = 1, #all, 2 do
  if live[all[i + 1]] then table.insert(sids, all[i]) else redis.call('HDEL', KEYS[4], all[i]) end
end
return sids
"""
)
# KEYS: agents set; ARGV: the agent zsets' prefix. The agents no process holds now.
_GONE = (
    _NOW
    + """
local gone = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('ZCOUNT', ARGV[1] .. id, '(' .. now, '+inf') == 0 then
    table.insert(gone, id)
  end
end
return gone
"""
)
# KEYS: viewers hash, viewers-until zset, tickets set; ARGV: member, viewer, ttl ms, ticket.
_VIEW = (
    _NOW
    + """
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""
)
_DROP_DEAD_VIEWERS = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(dead) do redis.call('HDEL', KEYS[1], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
"""
# KEYS as _VIEW; ARGV: member ('' for none), ticket. Returns [dropped, viewers...].
_VIEWERS = (
    _NOW
    + """
local dropped = 0
if ARGV[1] ~= '' then
  dropped = redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
"""
    + _DROP_DEAD_VIEWERS
    + """
dropped = dropped + #dead
local left = redis.call('HVALS', KEYS[1])
if #left == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[2])
end
table.insert(left, 1, dropped)
return left
"""
)


class SharedPresence(Presence):
    """Presence kept in Redis with expiry, besides this process's own bookkeeping."""

    shared = True

    def __init__(self, url: str, ttl_seconds: float) -> None:
        super().__init__()
        self.redis = Redis.from_url(url)
        self.ttl_ms = max(int(ttl_seconds * 1000), 300)
        self._pid = 0
        self._process = ""
        self._connect = self.redis.register_script(_CONNECT)
        self._release = self.redis.register_script(_RELEASE)
        self._sids = self.redis.register_script(_SIDS)
        self._gone = self.redis.register_script(_GONE)
        self._view = self.redis.register_script(_VIEW)
        self._viewers_script = self.redis.register_script(_VIEWERS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def process(self) -> str:
        """This process among all: host, pid and a random part (one app after another),
        made anew in a child forked after the app was built (a server's workers)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._process = f"{socket.gethostname()}:{self._pid}:{secrets.token_hex(4)}"
        return self._process

    @property
    def heartbeat_seconds(self) -> float:
        """How often entries are refreshed and the sweep runs: a third of the expiry."""
        return self.ttl_ms / 3000

    def _agent_keys(self, agent_id: int) -> list[str]:
        return [
            f"{PREFIX}agent:{agent_id}",
            f"{PREFIX}sockets:{agent_id}",
            f"{PREFIX}agents",
            f"{PREFIX}sids:{agent_id}",
        ]

    def _ticket_keys(self, ticket_id: int) -> list[str]:
        return [
            f"{PREFIX}viewers:{ticket_id}",
            f"{PREFIX}viewers-until:{ticket_id}",
            f"{PREFIX}tickets",
        ]

    def _agent_args(self, agent_id: int, count: int, sid: str = "") -> list[str | int]:
        return [self.process, count, self.ttl_ms, agent_id, sid]

    def _viewer_args(self, ticket_id: int, sid: str, viewer: dict[str, Any]) -> list[str | int]:
        return [f"{self.process}|{sid}", json.dumps(viewer), self.ttl_ms, ticket_id]

    @contextmanager
    def agent_lock(self, agent_id: int) -> Iterator[None]:
        # At most 10 s, so a holder that died frees it; past that (a stuck database),
        # presence goes on without it rather than refuse the connection.
        lock = self.redis.lock(f"{PREFIX}lock:{agent_id}", timeout=10, sleep=0.01)
        held = lock.acquire(blocking_timeout=10)
        if not held:
            log.warning("presence lock of agent %s not had in 10 s; going on", agent_id)
        try:
            yield
        finally:
            if held:
                try:
                    lock.release()
                except LockError:  # held past its 10 s and taken by another since
                    log.warning("presence lock of agent %s expired while held", agent_id)

    def connect(self, sid: str, agent_id: int) -> bool:
        args = self._agent_args(agent_id, self._add_local(sid, agent_id), sid)
        return int(self._connect(keys=self._agent_keys(agent_id), args=args)) == 0

    def disconnect(self, sid: str) -> tuple[int | None, bool, list[int]]:
        agent_id, last, left = super().disconnect(sid)
        if agent_id is not None:
            self.redis.hdel(f"{PREFIX}sids:{agent_id}", sid)
        return agent_id, last, left

    def all_sids(self, agent_id: int) -> list[str]:
        sids = self._sids(keys=self._agent_keys(agent_id), args=[])
        return [sid.decode() if isinstance(sid, bytes) else sid for sid in sids]

    def _count_changed(self, agent_id: int) -> None:
        count = self.local_counts().get(agent_id, 0)
        # Kept registered with no connection until the grace is over (release).
        self._connect(keys=self._agent_keys(agent_id), args=self._agent_args(agent_id, count))

    def release(self, agent_id: int) -> bool:
        if not super().release(agent_id):
            return False
        args: list[str | int] = [self.process, agent_id]
        return int(self._release(keys=self._agent_keys(agent_id), args=args)) == 1

    def claim_gone(self, agent_id: int) -> bool:
        return int(self._release(keys=self._agent_keys(agent_id), args=["", agent_id])) == 1

    def connections(self, agent_id: int) -> int:
        """The agent's live connections in every process."""
        counts = self.redis.hgetall(f"{PREFIX}sockets:{agent_id}")
        return sum(int(count) for count in counts.values())

    def gone_agents(self) -> list[int]:
        return [int(i) for i in self._gone(keys=[f"{PREFIX}agents"], args=[f"{PREFIX}agent:"])]

    def view(self, ticket_id: int, sid: str, viewer: dict[str, Any]) -> bool:
        if not super().view(ticket_id, sid, viewer):
            return False
        self._store_viewer(ticket_id, sid, viewer)
        return True

    def _store_viewer(self, ticket_id: int, sid: str, viewer: dict[str, Any]) -> None:
        args = self._viewer_args(ticket_id, sid, viewer)
        self._view(keys=self._ticket_keys(ticket_id), args=args)

    def unview(self, ticket_id: int, sid: str) -> bool:
        mine = super().unview(ticket_id, sid)
        answer = self._viewers_script(
            keys=self._ticket_keys(ticket_id), args=[f"{self.process}|{sid}", ticket_id]
        )
        return mine or int(answer[0]) > 0

    def _all_viewers(self, ticket_id: int) -> list[dict[str, Any]]:
        answer = self._viewers_script(keys=self._ticket_keys(ticket_id), args=["", ticket_id])
        return [json.loads(value) for value in answer[1:]]

    def stale_tickets(self) -> list[int]:
        stale = []
        for ticket_id in self.redis.smembers(f"{PREFIX}tickets"):
            answer = self._viewers_script(
                keys=self._ticket_keys(int(ticket_id)), args=["", int(ticket_id)]
            )
            if int(answer[0]) > 0:
                stale.append(int(ticket_id))
        return stale

    def beat(self) -> list[int]:
        """Refresh this process's entries: its agents (with their connection counts) and
        its viewers (put back if a sweep dropped them while this process was slow). The
        connected agents whose entries here had expired with nobody else holding them
        (a sweep may have marked them offline: the caller checks)."""
        pipe = self.redis.pipeline(transaction=False)
        agents = [(agent_id, count) for agent_id, count in self.local_counts().items() if count]
        for agent_id, count in agents:
            args = self._agent_args(agent_id, count)
            self._connect(keys=self._agent_keys(agent_id), args=args, client=pipe)
        for ticket_id, sid, viewer in self.local_viewers():
            args = self._viewer_args(ticket_id, sid, viewer)
            self._view(keys=self._ticket_keys(ticket_id), args=args, client=pipe)
        held = pipe.execute()[: len(agents)]
        return [
            agent_id for (agent_id, _), before in zip(agents, held, strict=True) if int(before) == 0
        ]

    def start(self, app: Any) -> None:
        with self._lock:
            if self._thread is not None:
                return
            from helpdesk.presence import heartbeat

            self._thread = threading.Thread(
                target=heartbeat.run,
                args=(app, self, self._stop),
                daemon=True,
                name="presence-heartbeat",
            )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.redis.close()
