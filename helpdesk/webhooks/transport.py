"""One POST to a receiver, safe against server-side request forgery.

The host is resolved once; every address it resolves to must be public (not private,
loopback, link-local, multicast, reserved, unspecified, shared or otherwise not global)
unless ``WEBHOOK_ALLOW_PRIVATE`` (``HELPDESK_WEBHOOK_ALLOW_PRIVATE=1``); the connection is
then made to the address that was checked (pinned: a second DNS answer cannot swap it),
with the URL's host kept for ``Host``, TLS's SNI and the certificate check. Redirects are
never followed (an answer is an answer: a 3xx is not 2xx, so it is retried), timeouts are
short and at most ``MAX_READ`` bytes of the answer are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_READ = 64 * 1024  # bytes of an answer read at most
SNIPPET = 500  # characters of it kept in the delivery log


class Refused(Exception):
    """The URL may not be called (bad form, or an address that is not public)."""


@dataclass
class Answer:
    """What the receiver answered (``status`` None: no answer, ``error`` says why)."""

    status: int | None
    snippet: str
    duration_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


def _forbidden(address: str) -> bool:
    """Whether ``address`` is not a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def split(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path?query)`` of an http(s) URL; Refused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise Refused("the URL must not carry a user name or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``: every address it resolves to checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} cannot be resolved ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused(f"{host} cannot be resolved")
    if not allow_private:
        bad = [a for a in addresses if _forbidden(a)]
        if bad:
            raise Refused(
                f"{host} resolves to {bad[0]}, not a public address "
                "(HELPDESK_WEBHOOK_ALLOW_PRIVATE=1 allows it)"
            )
    return addresses[0]


def check(url: str, allow_private: bool) -> None:
    """Refused unless ``url`` may be called now (the form, and where it resolves to)."""
    _scheme, host, port, _path = split(url)
    resolve(host, port, allow_private)


class _Pinned(http.client.HTTPConnection):
    """HTTP to ``address`` (checked), speaking to ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:  # noqa: D102 - http.client's hook
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to ``address`` (checked), the certificate checked for ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:  # noqa: D102 - http.client's hook
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST ``body`` to ``url`` (Refused before any connection when it may not be called)."""
    scheme, host, port, path = split(url)
    address = resolve(host, port, allow_private)
    kind = _PinnedTLS if scheme == "https" else _Pinned
    connection = kind(host, port, address, timeout)
    started = time.monotonic()
    deadline = started + 2 * timeout  # the whole exchange, however slowly it trickles

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        read = b""
        while len(read) < MAX_READ and time.monotonic() < deadline:
            chunk = (
                response.read1(min(8192, MAX_READ - len(read)))
                if hasattr(response, "read1")
                else b""
            )
            if not chunk:
                break
            read += chunk
        snippet = read.decode("utf-8", "replace")[:SNIPPET]
        return Answer(response.status, snippet, elapsed())
    except (OSError, http.client.HTTPException) as exc:
        kind_name = (
            "timed out" if isinstance(exc, TimeoutError | socket.timeout) else type(exc).__name__
        )
        return Answer(None, "", elapsed(), f"{kind_name}: {exc}"[:SNIPPET])
    finally:
        connection.close()
