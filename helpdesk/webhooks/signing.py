"""The signature of a delivery: ``sha256=HEX``, the HMAC-SHA256 of ``TIMESTAMP + "." +
BODY`` under the webhook's secret (docs/webhooks.md shows receivers how to check it)."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=HEX`` for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers(secret: str, event: str, uid: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one try of a delivery."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "helpdesk-webhooks/1",
        "X-Helpdesk-Event": event,
        "X-Helpdesk-Delivery": uid,
        "X-Helpdesk-Timestamp": str(timestamp),
        "X-Helpdesk-Signature": signature(secret, timestamp, body),
    }
