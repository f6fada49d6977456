"""Support mailboxes: a ``Channel(kind="email")`` with its IMAP and SMTP settings.

``settings`` holds what may be shown (hosts, ports, users, folders, ``auth``: how it
signs in), ``secrets`` the passwords, or for a mailbox signed in with Microsoft or Google
its OAuth tokens (channels/oauth), which are never shown back or logged; ``state`` the IMAP
UIDVALIDITY, the last UID imported, UIDs to retry and the poll lease.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.audit import services as audit
from helpdesk.channels.models import Channel
from helpdesk.channels.oauth.providers import xoauth2
from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.errors import Invalid
from helpdesk.extensions import db

EMAIL = "email"
_DOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
DEFAULT_PORTS = {"imap": 143, "imaps": 993, "smtp": 25, "smtps": 465}
LEASE_SECONDS = 300  # a poll holds its mailbox this long unless renewed (a dead worker's expires)


@dataclass
class Server:
    """Where and how to log in to one IMAP or SMTP server."""

    host: str
    port: int
    tls: bool
    user: str
    password: str
    folder: str = "INBOX"
    starttls: bool = False
    token: str = ""  # an OAuth access token: XOAUTH2 instead of the password


def parse_url(url: str, kinds: tuple[str, str], field: str) -> tuple[dict, str]:
    """Split ``imap[s]://USER:PASS@HOST:PORT/FOLDER`` into settings and the password."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:  # never echo the URL: it holds a password
        raise Invalid(
            f"the {field} is not a valid URL", fields={field: "bad port or format"}
        ) from exc
    scheme = parts.scheme.lower()
    if scheme not in kinds:
        raise Invalid(
            f"the {field} must start with {kinds[0]}:// or {kinds[1]}://",
            fields={field: "unknown scheme"},
        )
    if not parts.hostname:
        raise Invalid(f"the {field} names no host", fields={field: "no host"})
    query = parse_qs(parts.query)
    settings = {
        "host": parts.hostname,
        "port": port or DEFAULT_PORTS[scheme],
        "tls": scheme.endswith("s"),
        "user": unquote(parts.username or ""),
    }
    if scheme.startswith("imap"):
        settings["folder"] = unquote(parts.path.lstrip("/")) or "INBOX"
    else:
        settings["starttls"] = (query.get("starttls") or ["no"])[0].lower() in ("1", "yes", "true")
    return settings, unquote(parts.password or "")


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` for its user, unless it carries a password of its own."""
    parts = urlsplit(url)
    if parts.password is not None or not parts.username:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def masked_url(settings: dict, kind: str) -> str:
    """The server's URL as it may be shown: the password replaced by ``****``."""
    scheme = kind + ("s" if settings.get("tls") else "")
    user = f"{settings['user']}:****@" if settings.get("user") else ""
    path = f"/{settings['folder']}" if kind == "imap" else ""
    return f"{scheme}://{user}{settings['host']}:{settings['port']}{path}"


def server(channel: Channel, kind: str) -> Server:
    """The IMAP or SMTP server of a mailbox, with its password."""
    settings = (channel.settings or {}).get(kind) or {}
    if not settings.get("host"):
        raise Invalid(f"mailbox {channel.name!r} has no {kind.upper()} server")
    return Server(
        host=settings["host"],
        port=int(settings["port"]),
        tls=bool(settings["tls"]),
        user=settings.get("user") or "",
        password=(channel.secrets or {}).get(f"{kind}_password") or "",
        folder=settings.get("folder") or "INBOX",
        starttls=bool(settings.get("starttls")),
        token=(channel.secrets or {}).get("access_token") or "" if _oauth(channel) else "",
    )


def imap_login(client, imap: Server) -> None:
    """Log an IMAPClient in: XOAUTH2 with the server's token, else the password."""
    if imap.token:
        client.oauth2_login(imap.user, imap.token)
    else:
        client.login(imap.user, imap.password)


def smtp_login(connection, smtp: Server) -> None:
    """Log an smtplib connection in: XOAUTH2 with a token, else the password if a user is
    set (without one, mail is sent without signing in)."""
    if smtp.token:
        answer = xoauth2(smtp.user, smtp.token)
        # a failed XOAUTH2 gets a 334 with the error: answered with an empty line
        connection.auth("XOAUTH2", lambda challenge=None: answer if challenge is None else "")
    elif smtp.user:
        connection.login(smtp.user, smtp.password)


def _oauth(channel: Channel) -> bool:
    return (channel.settings or {}).get("auth", "password") != "password"


def add_mailbox(
    name: str,
    imap_url: str,
    smtp_url: str,
    address: str,
    team=None,
    processed_folder: str | None = None,
    from_name: str | None = None,
    list_domains: list[str] | None = None,
) -> Channel:
    """Create a mailbox, or change the one with that name or address (``helpdesk mailbox
    add``); flushes only. The passwords are the URLs' own.

    ``list_domains``: mailing-list domains (Google Groups and the like) whose mail names
    the member who wrote it in ``X-Original-Sender``; None keeps the mailbox's."""
    imap, imap_password = parse_url(imap_url, ("imap", "imaps"), "IMAP URL")
    smtp, smtp_password = parse_url(smtp_url, ("smtp", "smtps"), "SMTP URL")
    if processed_folder:
        imap["processed_folder"] = processed_folder.strip()
    try:
        wanted = normalise_email(address)
    except InvalidIdentity:
        wanted = address
    channel = (
        db.session.execute(
            select(Channel).where(
                Channel.kind == EMAIL,
                (Channel.name == (name or "").strip()) | (Channel.address == wanted),
            )
        )
        .scalars()
        .first()
    )
    channel = save_mailbox(
        channel,
        name,
        address,
        imap,
        smtp,
        {"imap_password": imap_password, "smtp_password": smtp_password},
        team=team if team is not None else KEEP,
        from_name=from_name,
        list_domains=list_domains,
    )
    if not channel.active:  # connecting it again resumes it
        set_paused(channel, False)
    return channel


KEEP = object()  # save_mailbox(team=KEEP): the mailbox keeps its team
# How the desk signs in to the servers: a password, or a token from signing in with
# Microsoft or Google (OAuth 2, XOAUTH2; channels/oauth).
AUTH_METHODS = ("password", "microsoft", "google")
SECRET_KEYS = (
    "imap_password",
    "smtp_password",
    "refresh_token",
    "access_token",
    "token_expires_at",
)


def save_mailbox(
    channel: Channel | None,
    name: str,
    address: str,
    imap: dict,
    smtp: dict,
    passwords: dict,
    team=KEEP,
    from_name: str | None = None,
    list_domains: list[str] | None = None,
    auth: str = "password",
    extra: dict | None = None,
) -> Channel:
    """Create (``channel`` None) or change a mailbox; flushes and audits.

    ``imap``/``smtp``: the servers' settings (``check_server`` made them). A password of
    None keeps the stored one, "" means none. ``team``: a Team, None (every agent) or KEEP.
    ``extra``: further settings to set (the acknowledgement)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid(_("The mailbox needs a name of 1 to 100 characters."), fields={"name": "bad"})
    try:
        address = normalise_email(address)
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={"address": "not an email address"}) from exc
    if auth not in AUTH_METHODS:
        raise Invalid(_("Unknown sign-in method."), fields={"auth": "unknown"})
    mine = channel.id if channel is not None and channel.id else 0
    with db.session.no_autoflush:
        taken = db.session.execute(
            select(Channel.id).where(Channel.name == name, Channel.id != mine)
        ).first()
        used = db.session.execute(
            select(Channel.id).where(
                Channel.kind == EMAIL, Channel.address == address, Channel.id != mine
            )
        ).first()
    if taken:
        raise Invalid(
            _("A channel called %(name)s exists already.", name=name), fields={"name": "taken"}
        )
    if used:
        raise Invalid(
            _("Another mailbox has the address %(address)s.", address=address),
            fields={"address": "taken"},
        )
    old_settings = dict(channel.settings or {}) if channel is not None else {}
    if list_domains is None:
        list_domains = list(old_settings.get("list_domains", []))
    domains = sorted({d.strip().lower().lstrip("@") for d in list_domains if d.strip()})
    if any(not _DOMAIN.fullmatch(d) for d in domains):
        raise Invalid(_("A list domain is not a domain name."), fields={"list_domains": "bad"})
    before = channel.public() if channel is not None else None
    if channel is None:
        channel = Channel(kind=EMAIL, state={}, active=True)
        db.session.add(channel)
    elif old_settings.get("imap", {}).get("host") != imap["host"]:
        channel.state = {}  # another server: its UIDs mean nothing here
    channel.name, channel.address = name, address
    for key in ("imap", "smtp", "from_name", "list_domains", "auth"):
        old_settings.pop(key, None)
    channel.settings = {
        **old_settings,
        **(extra or {}),
        "auth": auth,
        "imap": imap,
        "smtp": smtp,
        **({"from_name": from_name} if from_name else {}),
        **({"list_domains": domains} if domains else {}),
    }
    secrets = dict(channel.secrets or {})
    changed = sorted(
        k for k in SECRET_KEYS if passwords.get(k) is not None and passwords[k] != secrets.get(k)
    )
    secrets.update({k: passwords[k] for k in SECRET_KEYS if passwords.get(k) is not None})
    tokens = () if auth == "password" else SECRET_KEYS[2:]  # a password mailbox keeps none
    channel.secrets = {k: secrets.get(k) or "" for k in SECRET_KEYS[:2]} | {
        k: secrets[k] for k in tokens if secrets.get(k)
    }
    if team is not KEEP:
        channel.team = team
    db.session.flush()
    after = channel.public()
    if changed and before is not None:
        after["passwords_changed"] = changed  # which, never what
    audit.record_saved("channel", channel.id, before, after)
    return channel


def set_paused(channel: Channel, paused: bool) -> None:
    """Pause a mailbox (not polled, no replies sent through it) or resume it; audited."""
    if channel.active == (not paused):
        return
    before = channel.public()
    channel.active = not paused
    db.session.flush()
    audit.record_saved("channel", channel.id, before, channel.public())


def describe(channel: Channel) -> dict:
    """A mailbox as it may be shown: its URLs with the passwords masked."""
    settings = channel.settings or {}
    return {
        **channel.public(),
        "imap": masked_url(settings.get("imap", {}), "imap") if settings.get("imap") else None,
        "smtp": masked_url(settings.get("smtp", {}), "smtp") if settings.get("smtp") else None,
        "list_domains": settings.get("list_domains", []),
        "last_uid": (channel.state or {}).get("last_uid"),
        "last_error": (channel.state or {}).get("last_error"),
    }


def mailboxes(name: str | None = None) -> list[Channel]:
    """The active mailboxes (or the one called ``name``)."""
    query = select(Channel).where(Channel.kind == EMAIL, Channel.active.is_(True))
    if name:
        query = query.where(Channel.name == name)
    return list(db.session.execute(query.order_by(Channel.id)).scalars())


def our_addresses() -> set[str]:
    """Every support address we send from: mail from them is never a customer's."""
    rows = db.session.execute(select(Channel.address).where(Channel.kind == EMAIL)).scalars()
    return {address.lower() for address in rows if address}


def mailbox_for(ticket) -> Channel | None:
    """The mailbox a ticket's replies go out through: its own, its team's, or the first."""
    if ticket.channel_id:
        channel = db.session.get(Channel, ticket.channel_id)
        if channel is not None and channel.kind == EMAIL and channel.active:
            return channel
    candidates = mailboxes()
    for channel in candidates:
        if ticket.team_id and channel.team_id == ticket.team_id:
            return channel
    return candidates[0] if candidates else None


def save_state(
    channel_id: int,
    token: str,
    take: bool = False,
    release: bool = False,
    error: str | None = None,
    **progress,
) -> bool:
    """Read-modify-write a mailbox's poll state under a row lock; commits. ``take`` takes
    the poll lease (False when another live poll holds it), ``release`` gives it back and
    records the outcome (without ``error``: a success, where /metrics' poll lag counts
    from); ``progress`` carries ``validity``, ``last_uid``, ``retry``, ``pending``, ``since``."""
    with unit_of_work.writing():
        db.session.rollback()  # a fresh transaction, begun as a writer (SQLite: IMMEDIATE)
        channel = db.session.execute(
            select(Channel)
            .where(Channel.id == channel_id)
            .with_for_update(of=Channel)
            .execution_options(populate_existing=True)
        ).scalar_one()
        state = dict(channel.state or {})
        lease = state.get("lease") or {}
        now = time.time()
        if take and lease.get("until", 0) > now and lease.get("token") != token:
            db.session.rollback()
            return False
        if "validity" in progress:
            if state.get("uidvalidity") == progress["validity"]:
                progress["last_uid"] = max(progress["last_uid"], int(state.get("last_uid") or 0))
            state["uidvalidity"] = progress.pop("validity")
            progress["retry"] = {str(uid): n for uid, n in progress["retry"].items()}
            state.update({k: v for k, v in progress.items() if v is not None})
        if release:
            if lease.get("token") == token:
                state.pop("lease", None)
            state["last_poll_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            state["last_error"] = error
            if error is None:
                state["last_success_at"] = state["last_poll_at"]
        elif lease.get("token") in (None, token) or lease.get("until", 0) <= now:
            state["lease"] = {"token": token, "until": now + LEASE_SECONDS}
        channel.state = state
        db.session.commit()
    return True


def set_signature(channel: Channel, text: str | None) -> Channel:
    """Set (or, empty, remove) the text every email reply from the mailbox ends with;
    audited; flushes."""
    if channel.kind != EMAIL:
        raise Invalid("only a mailbox has a signature", fields={"mailbox": "not a mailbox"})
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > 2000 or "\x00" in text:
        raise Invalid("the signature is at most 2,000 characters", fields={"signature": "long"})
    before = channel.public()
    settings = {k: v for k, v in (channel.settings or {}).items() if k != "signature"}
    channel.settings = {**settings, **({"signature": text} if text else {})}
    db.session.flush()
    audit.record_saved("channel", channel.id, before, channel.public())
    return channel
