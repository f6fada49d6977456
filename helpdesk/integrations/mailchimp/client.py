"""MailChimp's Marketing API (v3.0), the one call we make: the batch member upsert
``POST /lists/{list_id}`` ``{"members": [...], "update_existing": true}``, up to 500
members a request, HTTP Basic with the API key. The key ends in its data centre
(``...-us21``): the API is ``https://us21.api.mailchimp.com/3.0`` unless
``MAILCHIMP_BASE_URL`` says otherwise (tests: a local stand-in)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from flask import current_app

BATCH = 500  # MailChimp's limit of members per batch request
TIMEOUT = 30


class MailchimpError(Exception):
    """MailChimp refused a request or could not be reached (the message says why)."""


def base_url() -> str:
    """The API's root for the configured key."""
    configured = current_app.config.get("MAILCHIMP_BASE_URL")
    if configured:
        return str(configured).rstrip("/")
    key = api_key()
    _, _, centre = key.rpartition("-")
    if not centre.isalnum():
        raise MailchimpError("MAILCHIMP_API_KEY must end in its data centre, e.g. ...-us21")
    return f"https://{centre}.api.mailchimp.com/3.0"


def api_key() -> str:
    """The configured API key; MailchimpError when there is none."""
    key = current_app.config.get("MAILCHIMP_API_KEY")
    if not key:
        raise MailchimpError("MAILCHIMP_API_KEY is not set")
    return str(key)


def upsert_members(list_id: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    """Add or update ``members`` of audience ``list_id`` (at most ``BATCH``); MailChimp's
    answer: ``new_members``, ``updated_members``, ``errors``, ``total_created``, ..."""
    if len(members) > BATCH:
        raise ValueError(f"at most {BATCH} members a request")
    body = json.dumps({"members": members, "update_existing": True}).encode()
    auth = base64.b64encode(f"helpdesk:{api_key()}".encode()).decode()
    request = urllib.request.Request(
        f"{base_url()}/lists/{quote(list_id, safe='')}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - https
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("detail") or detail
        except (ValueError, AttributeError):
            pass
        raise MailchimpError(f"MailChimp answered {exc.code}: {detail}") from None
    except (OSError, ValueError) as exc:
        raise MailchimpError(f"MailChimp could not be reached: {exc}") from None
