"""Chat widgets: a ``Channel(kind="chat")`` per website widget. ``settings`` holds the
websites allowed to embed it (``origins``), the greeting, the offline text and the
colours; ``secrets`` the identity secret that the company's site signs a logged-in
customer's email with (shown once, when made or rotated). ``helpdesk chat add`` and
``/settings/chat-widgets`` both save through here."""

from __future__ import annotations

import re
import secrets

from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import select

from helpdesk.audit import services as audit
from helpdesk.channels.models import Channel
from helpdesk.errors import Invalid
from helpdesk.extensions import db

CHAT = "chat"
KEEP = object()  # save_widget(team=KEEP): the widget keeps its team
GREETING = "Hi! How can we help?"
OFFLINE = (
    "We are not online right now. Leave your email address and message, and we will "
    "answer by email."
)
COLOR, TEXT_COLOR = "#2563eb", "#ffffff"  # the widget's own blue and white
MAX_TEXT = 1000
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:\d{1,5})?")
_COLOR = re.compile(r"#[0-9a-f]{6}")


def widgets() -> list[Channel]:
    """Every chat widget, in the order they were added."""
    query = select(Channel).where(Channel.kind == CHAT).order_by(Channel.id)
    return list(db.session.execute(query).unique().scalars())


def clean_origins(origins) -> list[str]:
    """``https://shop.example[:port]`` each (or ``*``: any website), lower case, once."""
    cleaned: list[str] = []
    for raw in origins:
        value = (raw or "").strip().rstrip("/").lower()
        if not value:
            continue
        if value != "*" and not _ORIGIN.fullmatch(value):
            raise Invalid(
                _("%(origin)s is not a website address like https://shop.example.", origin=value),
                fields={"origins": "bad"},
            )
        if value not in cleaned:
            cleaned.append(value)
    if not cleaned:
        raise Invalid(
            _("Name at least one website that may show the widget."), fields={"origins": "none"}
        )
    return cleaned


def _luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def clean_colors(color: str | None, text_color: str | None) -> dict:
    """The widget's colour and the text on it, ``#rrggbb``, readable together (WCAG AA:
    a contrast of at least 4.5:1)."""
    color = (color or COLOR).strip().lower()
    text_color = (text_color or TEXT_COLOR).strip().lower()
    for field, value in (("color", color), ("text_color", text_color)):
        if not _COLOR.fullmatch(value):
            raise Invalid(_("Colours are written like #2563eb."), fields={field: "bad"})
    ratio = contrast(color, text_color)
    if ratio < 4.5:
        raise Invalid(
            _(
                "The text is hard to read on that colour (contrast %(ratio).1f:1; at least "
                "4.5:1 is needed).",
                ratio=ratio,
            ),
            fields={"text_color": "low contrast"},
        )
    return {"color": color, "text_color": text_color}


def _text(value: str | None, default: str, field: str) -> str:
    """A greeting or offline text: the default when blank, at most MAX_TEXT characters."""
    value = (value or "").strip() or default
    if len(value) > MAX_TEXT:
        raise Invalid(
            _("At most %(count)d characters.", count=MAX_TEXT), fields={field: "too long"}
        )
    return value


def save_widget(
    channel: Channel | None,
    name: str,
    origins,
    greeting: str | None = None,
    offline_message: str | None = None,
    team=KEEP,
    color: str | None = None,
    text_color: str | None = None,
) -> tuple[Channel, str | None]:
    """Create (``channel`` None) or change a chat widget; flushes and audits. A new widget
    comes with its identity secret (returned, to be shown once; None on a change)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid(_("The widget needs a name of 1 to 100 characters."), fields={"name": "bad"})
    mine = channel.id if channel is not None else 0
    with db.session.no_autoflush:
        taken = db.session.execute(
            select(Channel.id).where(Channel.name == name, Channel.id != mine)
        ).first()
    if taken:
        raise Invalid(
            _("A channel called %(name)s exists already.", name=name), fields={"name": "taken"}
        )
    settings = {
        **(channel.settings or {} if channel is not None else {}),
        "origins": clean_origins(origins),
        "greeting": _text(greeting, GREETING, "greeting"),
        "offline_message": _text(offline_message, OFFLINE, "offline_message"),
        **clean_colors(color, text_color),
    }
    before = channel.public() if channel is not None else None
    secret = None
    if channel is None:
        secret = secrets.token_urlsafe(32)
        channel = Channel(
            kind=CHAT,
            address="chat_" + secrets.token_urlsafe(16),
            secrets={"identity_secret": secret},
            state={},
            active=True,
        )
        db.session.add(channel)
    channel.name, channel.settings = name, settings
    if team is not KEEP:
        channel.team = team
    db.session.flush()
    audit.record_saved("channel", channel.id, before, channel.public())
    return channel, secret


def rotate_secret(channel: Channel) -> str:
    """A new identity secret for the widget (the old one stops working at once); flushes
    and audits. Returned to be shown once."""
    secret = secrets.token_urlsafe(32)
    channel.secrets = {**(channel.secrets or {}), "identity_secret": secret}
    db.session.flush()
    audit.record("channel.rotate_secret", object_type="channel", object_id=channel.id)
    return secret


def snippet(channel: Channel, base: str) -> str:
    """The script tag a website embeds the widget with (``base``: the helpdesk's URL)."""
    settings = channel.settings or {}
    colors = "".join(
        f' data-{attribute}="{escape(settings[key])}"'
        for key, attribute in (("color", "color"), ("text_color", "text-color"))
        if settings.get(key)
    )
    return (
        f'<script src="{escape(base.rstrip("/"))}/chat/widget.js" '
        f'data-channel="{escape(channel.address)}"{colors} async></script>'
    )
