"""Configuration read from the environment (see docs/product.md)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

# Templates, static files and migrations ship inside the package (package data), so a
# plain `pip install .` runs from any folder.
PACKAGE = Path(__file__).resolve().parent


def instance_path() -> Path:
    """Where the database, secret key and attachments live: HELPDESK_INSTANCE, else
    ``instance/`` in the folder the command runs in."""
    return Path(os.environ.get("HELPDESK_INSTANCE") or Path.cwd() / "instance").resolve()


def _secret_key(instance: Path) -> str:
    """Return SECRET_KEY from the environment, or one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _secrets_key(instance: Path) -> str:
    """HELPDESK_SECRETS_KEY (Fernet keys encrypting channel secrets at rest), or one
    generated once into instance/secrets_key: outside the database, like SECRET_KEY."""
    if os.environ.get("HELPDESK_SECRETS_KEY"):
        return os.environ["HELPDESK_SECRETS_KEY"]
    path = instance / "secrets_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")  # Fernet's
        draft = instance / f".secrets_key.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)  # whole, and only once when two processes start together
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def from_environment(instance: Path) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    default_db = f"sqlite:///{instance / 'helpdesk.db'}"
    database_url = os.environ.get("DATABASE_URL") or default_db
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        # psycopg 3 is the driver we ship.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Redis pub/sub channels ignore the database number: deployments sharing
        # one Redis need channels of their own.
        "SOCKETIO_CHANNEL": os.environ.get("HELPDESK_SOCKETIO_CHANNEL", "helpdesk"),
        "SECRET_KEY": _secret_key(instance),
        "SECRETS_KEY": _secrets_key(instance),
        "HELPDESK_DEFAULT_REGION": os.environ.get("HELPDESK_DEFAULT_REGION", "DE"),
        # How many proxies in front set X-Forwarded-* (web.trust_proxies); 0 trusts none.
        "TRUSTED_PROXIES": int(os.environ.get("HELPDESK_TRUSTED_PROXIES") or 0),
        "PUBLIC_URL": (os.environ.get("PUBLIC_URL") or "").rstrip("/") or None,
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_NUMBER": os.environ.get("TWILIO_NUMBER"),
        # The browser softphone's access tokens (channels/twilio/softphone.py): an API key
        # and its secret, and the TwiML App that outgoing browser calls go through.
        "TWILIO_API_KEY": os.environ.get("TWILIO_API_KEY"),
        "TWILIO_API_SECRET": os.environ.get("TWILIO_API_SECRET"),
        "TWILIO_TWIML_APP_SID": os.environ.get("TWILIO_TWIML_APP_SID"),
        # Where the Twilio REST client sends its requests (and media may be fetched from):
        # unset means Twilio itself; tests and proxies point it elsewhere.
        "TWILIO_API_BASE_URL": (os.environ.get("TWILIO_API_BASE_URL") or "").rstrip("/") or None,
        # Record answered calls (both parties) into the call's ticket; 0 turns it off.
        # Off unless asked for: recording a call needs the caller told (and in Germany, §201 StGB,
        # their consent), which only the number's greeting can do.
        "TWILIO_RECORD_CALLS": os.environ.get("TWILIO_RECORD_CALLS", "0") == "1",
        # Mailboxes signing in with Microsoft 365 / Outlook.com or Google (OAuth 2); the
        # base URLs move the authorize and token endpoints (tests: a stand-in).
        **{
            f"OAUTH_{p}_{key}": os.environ.get(f"HELPDESK_OAUTH_{p}_{key}") or None
            for p in ("MICROSOFT", "GOOGLE")
            for key in ("CLIENT_ID", "SECRET", "BASE_URL")
        },
        "ATTACHMENT_DIR": os.environ.get("HELPDESK_ATTACHMENT_DIR")
        or str(instance / "attachments"),
        # Signed Twilio webhook requests, written before the database is touched and kept
        # while it is down (channels/twilio/spool.py); shared by the web processes and
        # whoever runs the scheduler's jobs.
        "SPOOL_DIR": os.environ.get("HELPDESK_SPOOL_DIR") or str(instance / "spool"),
        # Raw mail sources and webhook request bodies are dropped after this many days
        # (audit/retention.py, a periodic job); the messages stay.
        "RAW_RETENTION_DAYS": int(os.environ.get("HELPDESK_RAW_RETENTION_DAYS", "90")),
        # How long an open conversation on SMS/chat/voice keeps absorbing new messages.
        "THREAD_WINDOW_HOURS": int(os.environ.get("HELPDESK_THREAD_WINDOW_HOURS", "72")),
        # What an order number looks like in a customer's message, for the order-status bot
        # (a regular expression; group 1, when it has groups, is the number).
        "ORDER_NUMBER_PATTERN": os.environ.get("HELPDESK_ORDER_NUMBER_PATTERN")
        or r"#?\b(\d{5,10})\b",
        # Live chat abuse limits: connections per IP, messages per visitor and per IP,
        # each per minute; the longest message a visitor may send.
        "CHAT_CONNECTS_PER_MINUTE": int(os.environ.get("HELPDESK_CHAT_CONNECTS_PER_MINUTE", "60")),
        "CHAT_MESSAGES_PER_MINUTE": int(os.environ.get("HELPDESK_CHAT_MESSAGES_PER_MINUTE", "20")),
        "CHAT_IP_MESSAGES_PER_MINUTE": int(
            os.environ.get("HELPDESK_CHAT_IP_MESSAGES_PER_MINUTE", "300")
        ),
        "CHAT_MAX_MESSAGE": 5000,
        # Files (helpdesk/files/uploads.py): the largest an agent attaches to a reply, the
        # largest a chat visitor sends and the types a visitor may send; a clamd socket
        # (``/path`` or ``host:port``) that scans every upload when set.
        "UPLOAD_MAX_BYTES": int(os.environ.get("HELPDESK_UPLOAD_MAX_BYTES", str(20 * 2**20))),
        "CHAT_UPLOAD_MAX_BYTES": int(
            os.environ.get("HELPDESK_CHAT_UPLOAD_MAX_BYTES", str(5 * 2**20))
        ),
        "CHAT_UPLOAD_TYPES": tuple(
            t.strip().lower()
            for t in os.environ.get(
                "HELPDESK_CHAT_UPLOAD_TYPES",
                "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain",
            ).split(",")
            if t.strip()
        ),
        "CLAMAV_SOCKET": os.environ.get("HELPDESK_CLAMAV_SOCKET") or None,
        # MailChimp (helpdesk/integrations/mailchimp): the Marketing API's key (ending in its
        # data centre, "-us21") and, for tests or a proxy, another base URL of the API.
        "MAILCHIMP_API_KEY": os.environ.get("MAILCHIMP_API_KEY") or None,
        "MAILCHIMP_BASE_URL": (os.environ.get("MAILCHIMP_BASE_URL") or "").rstrip("/") or None,
        # Outbound webhooks (helpdesk/webhooks): private, loopback, link-local addresses are
        # refused unless allowed; each try's connect/read timeout; the waits before each
        # retry (seconds; the default retries for about a day).
        "WEBHOOK_ALLOW_PRIVATE": os.environ.get("HELPDESK_WEBHOOK_ALLOW_PRIVATE", "") == "1",
        "WEBHOOK_TIMEOUT": float(os.environ.get("HELPDESK_WEBHOOK_TIMEOUT", "5")),
        "WEBHOOK_RETRY_DELAYS": tuple(
            float(d)
            for d in os.environ.get(
                "HELPDESK_WEBHOOK_RETRY_DELAYS", "10,60,300,1800,3600,7200,14400,28800,28800"
            ).split(",")
            if d.strip()
        ),
        # How long the link that confirms an email typed into the chat works (once).
        "CHAT_CONFIRM_SECONDS": int(
            float(os.environ.get("HELPDESK_CHAT_CONFIRM_HOURS", "24")) * 3600
        ),
        # Inbound mail over either limit is not parsed: stored raw (over the size, only
        # its head) and flagged for an agent (channels/email/inbound.py).
        "MAIL_MAX_BYTES": int(os.environ.get("HELPDESK_MAIL_MAX_BYTES", str(25 * 2**20))),
        "MAIL_MAX_PARTS": int(os.environ.get("HELPDESK_MAIL_MAX_PARTS", "500")),
        # Inbound messages ingested per transaction by bulk sources (an IMAP poll's
        # fetch): tickets/ingest/batch.py; 1 ingests them one at a time.
        "INGEST_BATCH": int(os.environ.get("HELPDESK_INGEST_BATCH", "50")),
        # Worker processes that read (parse, clean) an IMAP poll's next fetch batch while
        # it writes the one before (channels/email/reader.py); 0: read in the poll's process.
        "MAIL_READ_PROCESSES": int(os.environ.get("HELPDESK_MAIL_READ_PROCESSES", "2")),
        # How long an agent whose last connection closed still counts as online
        # (the next page of the agent UI reconnects within it).
        "PRESENCE_GRACE_SECONDS": float(os.environ.get("HELPDESK_PRESENCE_GRACE_SECONDS", "10")),
        # With Redis: how long a web process's entries (its agents' connections, who has a
        # ticket open) outlive its last heartbeat (every third of it); a process that
        # dies loses its agents within this and a third (helpdesk/presence).
        "PRESENCE_TTL_SECONDS": float(os.environ.get("HELPDESK_PRESENCE_TTL_SECONDS", "45")),
        # SLA (tickets/sla.py): how long before a due time the assignee is warned.
        "SLA_WARN_MINUTES": int(os.environ.get("HELPDESK_SLA_WARN_MINUTES", "30")),
        # Reports (helpdesk/reports): the time zone whose calendar days a report counts
        # in when the request names none (the ``tz`` argument).
        "REPORTS_TIMEZONE": os.environ.get("HELPDESK_REPORTS_TIMEZONE", "Europe/Berlin"),
        # The UI's language when neither the agent nor the browser names one we speak
        # (helpdesk/i18n.py), and the time zone dates are shown in when the agent set none.
        "DEFAULT_LANGUAGE": os.environ.get("HELPDESK_DEFAULT_LANGUAGE", "en"),
        "TIMEZONE": os.environ.get("HELPDESK_TIMEZONE", "Europe/Berlin"),
        # The satisfaction survey (helpdesk/surveys): how long after a ticket is solved
        # its customer is asked, and how long the answer is taken.
        "SURVEY_DELAY_MINUTES": int(os.environ.get("HELPDESK_SURVEY_DELAY_MINUTES", "60")),
        "SURVEY_EXPIRY_DAYS": int(os.environ.get("HELPDESK_SURVEY_EXPIRY_DAYS", "14")),
        # Campaigns (helpdesk/campaigns): messages per second per channel across all
        # workers (0: no limit), a claim's lease (a worker silent this long is taken for
        # dead), how many senders work one campaign at once, the days an SMS after a
        # campaign text counts as its reply.
        "CAMPAIGN_EMAIL_RATE": float(os.environ.get("HELPDESK_CAMPAIGN_EMAIL_RATE", "50")),
        "CAMPAIGN_SMS_RATE": float(os.environ.get("HELPDESK_CAMPAIGN_SMS_RATE", "1")),
        "CAMPAIGN_LEASE_SECONDS": float(os.environ.get("HELPDESK_CAMPAIGN_LEASE_SECONDS", "300")),
        "CAMPAIGN_SENDERS": int(os.environ.get("HELPDESK_CAMPAIGN_SENDERS", "2")),
        "CAMPAIGN_NICE": int(os.environ.get("HELPDESK_CAMPAIGN_NICE", "10")),
        "CAMPAIGN_SMS_REPLY_DAYS": int(os.environ.get("HELPDESK_CAMPAIGN_SMS_REPLY_DAYS", "7")),
        # How new passwords are hashed (Werkzeug's scrypt; the test suite sets a cheap
        # method, since every test makes agents and scrypt takes a tenth of a second).
        "PASSWORD_HASH_METHOD": "scrypt",
        # Login attempts checked per client address and per account within any minute;
        # past that the login form answers 429 without looking at the password.
        "LOGIN_ATTEMPTS_PER_MINUTE": int(
            os.environ.get("HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE", "30")
        ),
        # The session cookie: never sent on cross-site requests but top-level links
        # (Lax), never readable by scripts, Secure whenever the request came over HTTPS
        # (agents/auth.py: SessionInterface) and always with HELPDESK_SECURE_COOKIES=1.
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": os.environ.get("HELPDESK_SECURE_COOKIES", "") == "1",
        "API_PAGE_SIZE": 50,
        "API_MAX_PAGE_SIZE": 200,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        # After how long a reply still queued without a send job is sent again
        # (channels/delivery.py: requeue, every minute).
        "DELIVERY_REQUEUE_AFTER": int(os.environ.get("HELPDESK_DELIVERY_REQUEUE_AFTER", "60")),
        # A reply claimed by a send job this long ago belongs to a job that died (a worker
        # killed mid-send): it is sent again (scripts/prod-smoke shortens it).
        "DELIVERY_LEASE_SECONDS": int(os.environ.get("HELPDESK_DELIVERY_LEASE_SECONDS", "300")),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Monitoring (helpdesk/metrics): GET /metrics unless HELPDESK_METRICS=0, and then
        # only with this bearer token when one is set; log lines as text or JSON.
        "METRICS": os.environ.get("HELPDESK_METRICS", "1") != "0",
        "METRICS_TOKEN": os.environ.get("HELPDESK_METRICS_TOKEN") or None,
        "LOG_FORMAT": _log_format(),
    }


def _log_format() -> str:
    """HELPDESK_LOG_FORMAT: ``text`` (the default) or ``json``; anything else stops the
    start rather than logging in a shape the log collector does not expect."""
    value = (os.environ.get("HELPDESK_LOG_FORMAT") or "text").strip().lower()
    if value not in ("text", "json"):
        raise ValueError(f"HELPDESK_LOG_FORMAT must be text or json, not {value!r}")
    return value
