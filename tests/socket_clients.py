"""A real python-socketio client for tests: connects to /agents and records what arrives."""
from __future__ import annotations

import threading

import socketio


class Listener:
    """A real python-socketio client on /agents that records every event it receives.

    ``presence`` events (agents coming and going, this one included) are kept apart
    in ``presence``, so ``events`` holds what is about tickets and calls.
    """

    def __init__(self, url: str, **connect):
        self.events: list[tuple[str, dict]] = []
        self.presence: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record, namespace="/agents")
        self.client.connect(url, namespaces=["/agents"], transports=["websocket"],
                            wait_timeout=5, **connect)

    def _record(self, event, data):
        if event == "presence":
            self.presence.append(data)
        else:
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

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
