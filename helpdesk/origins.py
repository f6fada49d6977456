"""Which web origins may talk to us: our own pages (the host asked for, or PUBLIC_URL's)
and, for Engine.IO's CORS, the websites the chat widget is embedded on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from helpdesk.extensions import db

# Sources of the other origins Engine.IO answers CORS for (cors_origins_from).
CORS_SOURCES: list[Callable[[], Iterable[str]]] = []
CORS_CACHE_SECONDS = 10


def same_origin() -> bool:
    """Whether the connection comes from a page of this site (the host it was asked for,
    or PUBLIC_URL's), or names no origin (a program, not a browser)."""
    return own_origin(request.environ.get("HTTP_ORIGIN") or "", request.host, current_app.config)


def own_origin(origin: str, host: str, config: Mapping[str, Any]) -> bool:
    """Whether ``origin`` is this site's (``host``, or PUBLIC_URL's), or is empty."""
    origin = origin.strip().lower().rstrip("/")
    if not origin:
        return True
    public = (config.get("PUBLIC_URL") or "").lower()
    public_origin = "{0.scheme}://{0.netloc}".format(urlsplit(public)) if public else None
    return urlsplit(origin).netloc == host.lower() or origin == public_origin


def cors_origins_from(source: Callable[[], Iterable[str]]) -> None:
    """Also answer CORS for the origins ``source()`` names (``*``: any), besides our own:
    the chat widget's websites (``channels.init_app``). Its namespace checks them again."""
    if source not in CORS_SOURCES:
        CORS_SOURCES.append(source)


def cors_check(app: Flask) -> Callable[[str, dict], bool]:
    """Engine.IO's CORS check: our own origin, and the origins of ``CORS_SOURCES`` (read
    at most every ``CORS_CACHE_SECONDS``). /agents refuses any origin but ours again in
    its connect; /chat checks its channel's websites."""
    cached: dict[str, Any] = {"until": 0.0, "origins": frozenset()}

    def allowed(origin: str, environ: dict) -> bool:
        if own_origin(origin, environ.get("HTTP_HOST", ""), app.config):
            return True
        if time.monotonic() >= cached["until"]:
            with app.app_context():
                origins = {o.lower().rstrip("/") for src in CORS_SOURCES for o in src()}
                db.session.remove()
            cached.update(until=time.monotonic() + CORS_CACHE_SECONDS, origins=origins)
        found = cached["origins"]
        return "*" in found or origin.strip().lower().rstrip("/") in found

    return allowed
