"""Real python-socketio clients for tests: an agent on /agents, a chat visitor on /chat;
both record what arrives."""

from __future__ import annotations

import threading

import socketio


class Recorder:
    """A real python-socketio client on one namespace that records every event."""

    namespace = "/"

    def __init__(self, url: str, client: socketio.Client | None = None, **connect):
        self.events: list[tuple[str, dict]] = []
        self.client = client or socketio.Client(reconnection=False)
        self.client.on("*", self._record, namespace=self.namespace)
        self.client.connect(
            url, namespaces=[self.namespace], transports=["websocket"], wait_timeout=5, **connect
        )

    def _record(self, event, data):
        self.events.append((event, data))

    def wait_for(self, name: str, timeout: float = 5.0, where=lambda data: True) -> dict:
        """Block until an event called ``name`` (matching ``where``) arrived; return it."""
        pause = threading.Event()
        for _ in range(int(timeout / 0.02)):
            for event, data in list(self.events):
                if event == name and where(data):
                    return data
            pause.wait(0.02)
        raise AssertionError(f"no {name} event; got {[e for e, _ in self.events]}")

    def names(self) -> list[str]:
        """Names of the events received so far."""
        return [event for event, _ in self.events]

    def call(self, event: str, data=None):
        """Emit ``event`` and return the server's acknowledgement."""
        return self.client.call(
            event, data if data is not None else {}, namespace=self.namespace, timeout=10
        )

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()


class Listener(Recorder):
    """An agent's connection to /agents.

    ``presence`` events (agents coming and going, this one included) are kept apart
    in ``presence``, so ``events`` holds what is about tickets and calls.
    """

    namespace = "/agents"

    def __init__(self, url: str, **connect):
        self.presence: list[dict] = []
        super().__init__(url, **connect)

    def _record(self, event, data):
        if event == "presence":
            self.presence.append(data)
        else:
            self.events.append((event, data))


class Visitor(Recorder):
    """A website visitor's chat widget on /chat, sending the browser's Origin header."""

    namespace = "/chat"

    def __init__(self, url: str, key: str, origin: str, **auth):
        # websocket-client would otherwise send an Origin of its own.
        client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
        super().__init__(url, client, auth={"channel": key, **auth})

    def texts(self) -> list[str]:
        """The texts of the chat messages received so far."""
        return [data["text"] for event, data in self.events if event == "message"]
