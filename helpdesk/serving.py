"""The threaded Werkzeug server `helpdesk serve` and the tests run, with WebSocket support."""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler, make_server


class RequestHandler(WSGIRequestHandler):
    """Closes the connection when a finished WebSocket hands its socket back.

    simple-websocket ends a connection by raising ConnectionError; Werkzeug
    would otherwise keep the socket open for the next HTTP request and read
    the client's closing frame as one, leaving the client waiting.
    """

    def connection_dropped(self, error, environ=None) -> None:
        """Stop serving this socket."""
        self.close_connection = True


def server(app, host: str, port: int):
    """A threaded WSGI server for ``app`` (port 0 picks a free one)."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)
