"""What the Twilio SMS and voice adapters share: the signature check, the REST
client, TwiML responses and the phone number a webhook came in on.

Signatures are checked with Twilio's own ``RequestValidator`` against the URL
Twilio requested: ``PUBLIC_URL`` + path (behind a proxy), or the request's own
URL when ``PUBLIC_URL`` is unset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from flask import Response, current_app, has_request_context, request
from sqlalchemy import select
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from helpdesk import unit_of_work
from helpdesk.channels.models import Channel
from helpdesk.customers.identities import InvalidIdentity, normalise_phone
from helpdesk.extensions import db
from helpdesk.tickets import replies
from helpdesk.tickets.models import Message

log = logging.getLogger(__name__)
PHONE = "phone"  # Channel.kind of a phone number: its SMS and its calls
REST_TIMEOUT = 15  # seconds; a hung Twilio API call must not hold a worker forever

# The library logs every request at INFO, with message bodies and numbers in
# the query of some calls: customer data stays out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_URL + path (+ query), or the request's own URL."""
    public = current_app.config.get("PUBLIC_URL")
    if not public:
        return request.url
    query = request.query_string.decode("utf-8", "replace")
    return public.rstrip("/") + request.path + (f"?{query}" if query else "")


def valid_signature() -> bool:
    """Whether the current request carries a valid ``X-Twilio-Signature``."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        log.warning("Twilio webhook refused: TWILIO_AUTH_TOKEN is not configured")
        return False
    if not signature:
        return False
    raw = request.get_data(cache=True)  # keep the raw body readable after the form is parsed
    url = signed_url()
    params: Mapping[str, str] | str
    # Form posts are signed over their fields; a JSON body through bodySHA256 in the URL.
    if request.mimetype == "application/x-www-form-urlencoded":
        params = request.form
    elif "bodySHA256=" in url:
        params = raw.decode("utf-8", "replace")
    else:
        params = {}
    validator = RequestValidator(token)
    # Twilio signs an apostrophe in the query as %27 or as itself (as twilio-node accepts).
    candidates = dict.fromkeys((url, url.replace("'", "%27"), url.replace("%27", "'")))
    return any(validator.validate(candidate, params, signature) for candidate in candidates)


def twiml(response=None) -> Response:
    """A TwiML document (empty ``<Response/>`` when none is given) as text/xml."""
    if response is None:
        response = MessagingResponse()
    return Response(str(response), status=200, mimetype="text/xml")


def public_url(path: str) -> str | None:
    """An absolute URL of ours for Twilio to call back, or None when it cannot be known."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + path
    if has_request_context():
        return request.host_url.rstrip("/") + path
    return None


class _RedirectingHttpClient(TwilioHttpClient):
    """Sends every Twilio API request to ``base_url`` instead (a test stand-in, a proxy)."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        """Swap the scheme and host of a Twilio URL for ``base_url``; keep the path."""
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def rest_client() -> Client:
    """The Twilio REST client for the configured account (one per app, pooled)."""
    config = current_app.config
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if not sid or not token:
        raise LookupError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not configured")
    base = config.get("TWILIO_API_BASE_URL")
    key = (sid, token, base)
    cache = current_app.extensions.setdefault("helpdesk_twilio", {})
    if key not in cache:
        http = (
            _RedirectingHttpClient(base, timeout=REST_TIMEOUT)
            if base
            else TwilioHttpClient(timeout=REST_TIMEOUT)
        )
        cache[key] = Client(sid, token, http_client=http)
    return cache[key]


def media_allowed(url: str) -> bool:
    """Whether ``url`` points at Twilio (or the configured API stand-in): the only
    place we fetch media and recordings from, whatever a payload says."""
    parts = urlsplit(url or "")
    base = current_app.config.get("TWILIO_API_BASE_URL")
    if base:
        wanted = urlsplit(base)
        if (parts.scheme, parts.netloc) == (wanted.scheme, wanted.netloc):
            return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com"))


def e164(value: str | None) -> str | None:
    """``value`` in E.164, or None when it is not a phone number (``client:alice``)."""
    if not value:
        return None
    return _e164(value, current_app.config.get("HELPDESK_DEFAULT_REGION", "DE"))


@lru_cache(maxsize=4096)
def _e164(value: str, region: str) -> str | None:
    """Parsing a number costs more than the database lookup it leads to: keep recent ones."""
    try:
        return normalise_phone(value, region)
    except InvalidIdentity:
        return None


def phone_channel(number: str | None) -> Channel | None:
    """The configured phone channel of one of our numbers."""
    address = e164(number)
    if address is None:
        return None
    return db.session.execute(
        select(Channel).where(
            Channel.kind == PHONE, Channel.address == address, Channel.active.is_(True)
        )
    ).scalar_one_or_none()


def our_number(channel: Channel | None) -> str | None:
    """The number we send from: the (phone) channel's, else TWILIO_NUMBER."""
    if channel is not None and channel.kind == PHONE:
        return channel.address
    return e164(current_app.config.get("TWILIO_NUMBER"))


MAX_MEDIA = 20 * 1024 * 1024  # MMS media are at most 5 MB; voicemail recordings stay well below


def _download(url: str) -> tuple[bytes, str | None]:
    """Fetch Twilio media with the account's credentials; refuse oversized content."""
    config = current_app.config
    auth = None
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"):
        auth = (config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    # requests drops the credentials when Twilio redirects to its storage host.
    with requests.get(url, auth=auth, timeout=REST_TIMEOUT, stream=True) as response:
        response.raise_for_status()
        content = response.raw.read(MAX_MEDIA + 1, decode_content=True)
        if len(content) > MAX_MEDIA:
            raise ValueError(f"larger than {MAX_MEDIA // (1024 * 1024)} MB")
        return content, response.headers.get("Content-Type")


def download(url: str) -> tuple[bytes, str | None]:
    """Fetch a Twilio recording or media file with the account's credentials."""
    return _download(url)


def media_pending(message: Message) -> bool:
    """Whether ``message`` has media or a recording still to download (``fetch_media``)."""
    return any(a.sha256 is None and a.source_url for a in message.attachments)


def fetch_media(message_id: int) -> None:
    """Job: download the MMS media or voicemail recording a message only points at."""
    message = db.session.get(Message, message_id)
    if message is None:
        return
    pending = [
        (a.id, a.source_url) for a in message.attachments if a.sha256 is None and a.source_url
    ]
    db.session.rollback()  # no transaction (nor SQLite lock) held while downloading
    if not pending:
        return
    fetched, problems = {}, []
    for attachment_id, url in pending:
        if not media_allowed(url):
            problems.append(f"media not fetched: {url[:200]} is not a Twilio address")
            continue
        try:
            fetched[attachment_id] = _download(url)
        except (requests.RequestException, ValueError) as exc:
            problems.append(f"media not fetched from {url[:200]}: {str(exc)[:200]}")
    with unit_of_work.writing():
        replies.media_fetched(message_id, fetched, problems)
        unit_of_work.commit()
