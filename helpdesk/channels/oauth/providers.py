"""The two providers: where their authorize and token endpoints are, which scopes a
mailbox needs, their IMAP and SMTP servers; the sign-in link and the token requests.

``HELPDESK_OAUTH_<PROVIDER>_BASE_URL`` moves both endpoints to another host (the tests'
stand-in), keeping their paths."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from flask import current_app, has_request_context, request

TIMEOUT = 20  # seconds for one token request


@dataclass(frozen=True)
class Provider:
    """One OAuth 2 provider of mailboxes."""

    name: str
    label: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    imap: dict
    smtp: dict
    extra: tuple[tuple[str, str], ...] = ()  # further authorize parameters


PROVIDERS = {
    "microsoft": Provider(
        "microsoft",
        "Microsoft",
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        (
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
        ),
        {"host": "outlook.office365.com", "port": 993, "tls": True, "folder": "INBOX"},
        {"host": "smtp.office365.com", "port": 587, "tls": False, "starttls": True},
    ),
    "google": Provider(
        "google",
        "Google",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        ("https://mail.google.com/",),
        {"host": "imap.gmail.com", "port": 993, "tls": True, "folder": "INBOX"},
        {"host": "smtp.gmail.com", "port": 465, "tls": True, "starttls": False},
        # Google hands out a refresh token only when asked for offline access.
        (("access_type", "offline"), ("prompt", "consent")),
    ),
}


class OAuthError(Exception):
    """A token request failed; ``revoked`` when the provider says the grant is gone."""

    def __init__(self, message: str, revoked: bool = False):
        super().__init__(message)
        self.revoked = revoked


def provider(name: str) -> Provider | None:
    """The provider called ``name`` if its client id is configured, else None."""
    found = PROVIDERS.get(name)
    if found is None or not current_app.config.get(f"OAUTH_{name.upper()}_CLIENT_ID"):
        return None
    return found


def configured() -> list[Provider]:
    """The providers an admin can sign in with here."""
    return [p for p in PROVIDERS.values() if provider(p.name) is not None]


def _endpoint(found: Provider, url: str) -> str:
    base = current_app.config.get(f"OAUTH_{found.name.upper()}_BASE_URL")
    return base.rstrip("/") + urlsplit(url).path if base else url


def authorize_origin(found: Provider) -> str:
    """The scheme and host of the provider's sign-in page (a form may lead there)."""
    parts = urlsplit(_endpoint(found, found.authorize_url))
    return f"{parts.scheme}://{parts.netloc}"


def _client(found: Provider) -> tuple[str, str]:
    key = f"OAUTH_{found.name.upper()}"
    return current_app.config[f"{key}_CLIENT_ID"], current_app.config.get(f"{key}_SECRET") or ""


def redirect_uri() -> str:
    """Where the provider sends the admin back: registered in its console."""
    base = current_app.config.get("PUBLIC_URL")
    if not base and has_request_context():
        base = request.host_url.rstrip("/")  # without PUBLIC_URL: the host asked
    return f"{base or ''}/settings/mailboxes/oauth/callback"


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(found: Provider, state: str, challenge: str, address: str) -> str:
    """The provider's sign-in page for ``address``, asking for the mail scopes."""
    params = {
        "client_id": _client(found)[0],
        "redirect_uri": redirect_uri(),
        "response_type": "code",
        "scope": " ".join(found.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": address,
        **dict(found.extra),
    }
    return _endpoint(found, found.authorize_url) + "?" + urlencode(params)


def _token_request(found: Provider, form: dict) -> dict:
    client_id, secret = _client(found)
    form = {**form, "client_id": client_id, **({"client_secret": secret} if secret else {})}
    try:
        answer = requests.post(_endpoint(found, found.token_url), data=form, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise OAuthError(f"{found.label} token endpoint unreachable: {type(exc).__name__}") from exc
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200 or not body.get("access_token"):
        code = str(body.get("error") or f"HTTP {answer.status_code}")[:100]
        described = str(body.get("error_description") or "")[:300]
        raise OAuthError(
            f"{found.label} refused the token request: {code} {described}".strip(),
            revoked=code == "invalid_grant",
        )
    return body


def exchange_code(found: Provider, code: str, verifier: str) -> dict:
    """Trade the authorization code (with the PKCE verifier) for tokens."""
    return _token_request(
        found,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(),
            "code_verifier": verifier,
        },
    )


def refresh(found: Provider, refresh_token: str) -> dict:
    """A new access token (and maybe a new refresh token) for the refresh token."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if found.name == "microsoft":  # Microsoft asks for the scopes again; Google does not
        form["scope"] = " ".join(found.scopes)
    return _token_request(found, form)


def xoauth2(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64)."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"
