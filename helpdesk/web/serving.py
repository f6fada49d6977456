"""The threaded Werkzeug server `helpdesk serve` and the tests run, with WebSocket support."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment


class RequestHandler(WSGIRequestHandler):
    """Closes the connection when a finished WebSocket hands its socket back.

    simple-websocket ends a connection by raising ConnectionError; Werkzeug
    would otherwise keep the socket open for the next HTTP request and read
    the client's closing frame as one, leaving the client waiting.
    """

    def connection_dropped(
        self, error: BaseException, environ: WSGIEnvironment | None = None
    ) -> None:
        """Stop serving this socket."""
        self.close_connection = True


def server(app: WSGIApplication, host: str, port: int) -> BaseWSGIServer:
    """A threaded WSGI server for ``app`` (port 0 picks a free one)."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)


def settle_heap() -> None:
    """Hide what start-up made from the garbage collector, before serving.

    Modules, mappers, compiled templates and the like are some 150,000 objects that
    live as long as the process. A full collection walks every tracked object: on
    this machine 170 ms, a stall of whichever requests are running then, and the
    p99 of every page in bench/inbox.py. Frozen (CPython's ``gc.freeze``, the
    recipe for long-running servers), they are left out, and a full collection
    walks only what requests keep.
    """
    gc.collect()
    gc.freeze()
