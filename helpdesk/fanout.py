"""Socket.IO's fan-out between processes over Redis, with listeners that end with their app.

python-socketio's listener runs for ever: on any error it logs "Cannot receive from
redis", makes a new client and subscribes again, and it keeps that client in the
attributes the publishing side uses too. Flask-SocketIO, on top, hands the manager it
made for one app's ``message_queue`` to every later ``init_app`` that names none, so every
app built after one with Redis (the tests build hundreds in one process) started another
listener thread on that one manager. Those threads replaced each other's clients; a
dropped client's ``__del__`` closes its pool, in-use pubsub connection included, which
the others read as "Connection closed by server", and two threads reconnecting one
connection at once left a socket unclosed (whose ResourceWarning then failed whichever
test ran). ``realtime.init_app`` therefore gives every app a manager of its own, and
``realtime.shutdown`` ends it with the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import socketio as python_socketio  # the library under Flask-SocketIO

log = logging.getLogger(__name__)


class _ListenerStopped(BaseException):
    """Ends python-socketio's listener loop, which carries on after any Exception."""


class RedisManager(python_socketio.RedisManager):
    """python-socketio's Redis client manager, with a listener thread that can be ended.

    The library's listener runs for ever: on any error it logs "Cannot receive from
    redis", makes a new client and subscribes again, and it keeps that client in the
    attributes the publishing side uses too, so a second listener thread on the same
    manager, or a publish that reconnects, replaces the client a listener is reading
    from; the dropped client's ``__del__`` closes its connection pool, in-use pubsub
    connection included, which the listener reads as "Connection closed by server",
    and two threads reconnecting one connection at once leave a socket unclosed. Here
    the listener thread has a client and pubsub of its own that only it touches; it
    polls, so that ``stop`` ends it within ``POLL_SECONDS``, and it closes them on its
    way out. One listener per manager, however often it is initialized.
    """

    POLL_SECONDS = 0.2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def initialize(self) -> None:
        """Start the listener thread, once (python-socketio calls this per server)."""
        if self.thread is None and not self._stopping.is_set():
            super().initialize()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the listener thread (it closes its own connection), close the publishing
        connection; publishing afterwards is refused. Whether the thread has ended."""
        self._stopping.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self.redis is not None:
            self.redis.close()
        self.connected = False
        return thread is None or not thread.is_alive()

    def _publish(self, data: Any) -> Any:
        if self._stopping.is_set():
            log.warning(
                "Socket.IO message after its app was shut down, not sent: %s",
                data.get("method") if isinstance(data, dict) else data,
            )
            return None
        return super()._publish(data)

    def _thread(self) -> None:
        try:
            super()._thread()
        except _ListenerStopped:
            pass

    def _listen(self) -> Iterator[bytes]:
        """The data of the messages on our channel, until ``stop``."""
        channel = self.channel.encode("utf-8")
        client = pubsub = None
        retry_sleep = 1
        try:
            while not self._stopping.is_set():
                try:
                    if pubsub is None:
                        client = self._get_redis_module().Redis.from_url(
                            self.redis_url, **self.redis_options
                        )
                        pubsub = client.pubsub(ignore_subscribe_messages=True)
                        pubsub.subscribe(self.channel)
                        retry_sleep = 1
                    message = pubsub.get_message(timeout=self.POLL_SECONDS)
                except Exception as exc:  # noqa: BLE001 - the library's policy: log, wait, subscribe again
                    self._get_logger().error(
                        "Cannot receive from redis... retrying in %s secs",
                        retry_sleep,
                        extra={"redis_exception": str(exc)},
                    )
                    _close(client, pubsub)
                    client = pubsub = None
                    self._stopping.wait(retry_sleep)
                    retry_sleep = min(retry_sleep * 2, 60)
                    continue
                if (
                    message
                    and message["type"] == "message"
                    and message["channel"] == channel
                    and "data" in message
                ):
                    yield message["data"]
        finally:
            _close(client, pubsub)
        raise _ListenerStopped


def _close(client: Any, pubsub: Any) -> None:
    """Close a listener's pubsub, then its client's connection pool."""
    try:
        if pubsub is not None:
            pubsub.close()
    finally:
        if client is not None:
            client.close()
