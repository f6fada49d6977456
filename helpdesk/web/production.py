"""The production server `helpdesk serve` runs: gunicorn's threaded worker (gthread), the
way Flask-SocketIO documents it for the threading async mode with simple-websocket.

- One thread per request and per open WebSocket (``--threads``); ``--workers N``
  processes share the port. Socket.IO clients connect by WebSocket only (our agent UI
  and chat widget do), so a client's whole session lives on one connection and one
  process, and no sticky load balancing is needed (docs/scaling.md says why); the
  long-polling transport is turned off here, so a polling client gets a clear 400 at
  its first request instead of a session that breaks when its next poll lands on
  another process.
- A connection that is slow to send its request (headers or body) is cut after
  ``--timeout`` seconds; once a request is a WebSocket, the engine's ping/pong finds a
  dead peer instead.
- SIGTERM: the process stops accepting, requests in flight finish (within
  ``graceful_timeout``), and every Socket.IO connection is closed at the Engine.IO
  level, which clients take as "transport close" and reconnect (through the load
  balancer: to another process).
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import logging
import os
import signal
import socket
import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class TimedSocket(socket.socket):
    """A client socket whose blocking mode has a timeout: gunicorn switches sockets to
    blocking before reading a request, which would otherwise wait forever."""

    read_timeout: float | None = None

    def setblocking(self, flag: bool) -> None:
        """Blocking means blocking for at most ``read_timeout`` seconds."""
        if flag:
            self.settimeout(self.read_timeout)
        else:
            super().setblocking(False)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Read; a client silent past the timeout is dropped like one that hung up (gunicorn
        logs that quietly, where a timeout would log a traceback per slow client)."""
        try:
            return super().recv(bufsize, flags)
        except TimeoutError as error:
            raise ConnectionResetError(errno.ECONNRESET, "client too slow") from error


class Worker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's threaded worker with read timeouts and a graceful Socket.IO goodbye."""

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection as ``ThreadWorker.accept`` does, with a timed socket."""
        try:
            raw, address = listener.accept()
        except OSError as error:
            # EBADF: the listener was closed (stop_listening) while its event was pending.
            if error.errno not in (
                errno.EAGAIN,
                errno.EWOULDBLOCK,
                errno.ECONNABORTED,
                errno.EBADF,
            ):
                raise
            return
        client = TimedSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        client.read_timeout = float(self.cfg.timeout)
        client.setblocking(True)
        self.nr_conns += 1
        self.enqueue_req(TConn(self.cfg, client, address, listener.getsockname()))

    def handle_request(self, req: Any, conn: Any) -> bool:
        """Serve one request; a WebSocket keeps its socket without a read timeout."""
        if any(name == "UPGRADE" and value.lower() == "websocket" for name, value in req.headers):
            if isinstance(conn.sock, TimedSocket):
                conn.sock.read_timeout = None
                conn.sock.settimeout(None)
        keepalive: bool = super().handle_request(req, conn)
        return keepalive

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop accepting, let requests finish, tell Socket.IO clients to go.

        gunicorn would only stop polling the listening socket: a connection made
        meanwhile would wait in the kernel's backlog until the process ends and then be
        reset (a request lost). Here the waiting ones are taken and served, and the socket
        is closed, so that later ones are refused and a load balancer sends them to
        another process."""
        if self.alive:
            self.method_queue.defer(self.stop_listening)
            threading.Thread(target=close_realtime, name="socketio-goodbye", daemon=True).start()
        super().handle_exit(sig, frame)

    def stop_listening(self) -> None:
        """Take the connections already waiting in the kernel's backlog, then close the
        listening socket (in the main loop, after SIGTERM)."""
        for listener in self.sockets:
            raw = getattr(listener, "sock", None)
            if raw is None or raw.fileno() < 0:
                continue
            while True:
                before = self.nr_conns
                self.accept(listener)  # non-blocking: takes one if one is waiting
                if self.nr_conns == before:
                    break
            raw.close()  # the wrapper stays: gunicorn unregisters and closes it later


def close_realtime() -> None:
    """Close every Socket.IO connection of this process at the Engine.IO level: a
    client reconnects (a Socket.IO "disconnect" would tell it not to)."""
    from helpdesk.extensions import socketio

    server = socketio.server
    if server is None:
        return
    count = len(server.eio.sockets)
    try:
        server.eio.disconnect()  # no sid: every client
    except Exception:  # shutting down: log, let gunicorn finish
        log.exception("closing the Socket.IO connections failed")
    log.info("told %s Socket.IO connection(s) to reconnect elsewhere", count)


class Server(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn, configured from `helpdesk serve`'s options, serving the app the command
    built. The app is built once, before the worker processes are forked from it (their
    start is quick and they share its pages, frozen by ``settle_heap``); after the fork
    each worker drops the database connections it inherited (none are open by then) and,
    without Redis, runs the periodic work in a thread."""

    def __init__(self, app: Flask, options: dict[str, Any], in_process_jobs: bool) -> None:
        self.application = app
        self.options = options
        self.in_process_jobs = in_process_jobs
        super().__init__()

    def load_config(self) -> None:
        """Apply the options (gunicorn's own names)."""
        for key, value in {**self.options, "preload_app": True}.items():
            self.cfg.set(key, value)
        self.cfg.set("post_fork", self.post_fork)
        self.cfg.set("child_exit", self.child_exit)

    def load(self) -> Flask:
        """The app, ready to fork: WebSocket-only Socket.IO, start-up heap frozen."""
        from helpdesk.extensions import socketio
        from helpdesk.web.serving import settle_heap

        if socketio.server is not None:
            socketio.server.eio.transports = ["websocket"]
        settle_heap()
        return self.application

    def post_fork(self, arbiter: Any, worker: Any) -> None:
        """In the new worker process: die with the master (a killed server is gone, not
        an orphan that keeps its clients and its presence), a fresh connection pool,
        the in-process jobs."""
        from helpdesk.extensions import db

        die_with_parent(arbiter.pid)
        with self.application.app_context():
            db.engine.dispose(close=False)  # the parent's connections stay the parent's
        if self.in_process_jobs:
            from workers.scheduler import start_in_thread

            start_in_thread(self.application)

    def child_exit(self, arbiter: Any, worker: Any) -> None:
        """A worker process ended: its live metrics go (helpdesk.metrics, when present)."""
        try:
            multiprocess = importlib.import_module("helpdesk.metrics.multiprocess")
        except ImportError:
            return
        multiprocess.on_worker_exit(worker.pid)


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux); exit now if
    it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: gunicorn's own orphan check remains
        return
    if os.getppid() != parent:
        os._exit(1)


def options(host: str, port: int, workers: int, threads: int, timeout: int) -> dict[str, Any]:
    """gunicorn's settings for `helpdesk serve`."""
    return {
        "bind": [f"{host}:{port}"],
        "workers": workers,
        "worker_class": f"{__name__}.Worker",
        "threads": threads,
        # Connections beyond the threads wait in the poller (idle keep-alives, slow starts).
        "worker_connections": threads * 10,
        "timeout": timeout,
        "graceful_timeout": max(timeout, 30),
        "keepalive": 5,
        # Proxies are trusted in one place only, the app's ProxyFix (HELPDESK_TRUSTED_PROXIES):
        # gunicorn itself believes no X-Forwarded-* header.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "helpdesk-web",
        # gunicorn's control socket lives at one path per user: several servers on a
        # machine (two web containers' worth, the smoke test's) would fight over it.
        "control_socket_disable": True,
    }
