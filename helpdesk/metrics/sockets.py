"""Socket.IO namespaces that count their open connections (``registry.SOCKETS``)."""

from __future__ import annotations

from typing import Any

from flask_socketio import Namespace

from helpdesk.metrics import registry


class CountedNamespace(Namespace):  # type: ignore[misc]  # Flask-SocketIO is untyped
    """A namespace whose accepted connections and their ends are counted: a connection
    the ``on_connect`` handler refuses (False, ConnectionRefusedError) is not, and gets
    no disconnect."""

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch as Flask-SocketIO does, counting connects and disconnects."""
        result = super().trigger_event(event, *args)
        if event == "connect" and result is not False:
            registry.socket_opened(self.namespace)
        elif event == "disconnect":
            registry.socket_closed(self.namespace)
        return result
