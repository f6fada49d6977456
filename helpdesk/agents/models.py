"""Team, Agent and ApiToken."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model, db

ROLES = ("agent", "lead", "admin")
# What an API token may be used for: "api" the REST API and /agents realtime, "cti" only
# the CTI events of a phone system, "webhook-admin" only managing webhooks (docs/product.md).
SCOPES = ("api", "cti", "webhook-admin")
# "on_call": the browser softphone has a call up (static/softphone.js); no call rings them.
PRESENCE = ("online", "away", "on_call", "offline")
ASSIGNMENT = ("manual", "round_robin", "least_loaded")  # how a team's new tickets find an agent

team_members = Table(
    "team_members",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(Model):
    """A group of agents that owns channels and tickets."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # tickets/assignment.py: "manual", "round_robin" or "least_loaded", and the agent who got
    # the team's last automatic assignment (round-robin goes on after them; updated under a
    # row lock, so the turn is fair across calls and processes).
    assignment: Mapped[str] = mapped_column(String(20), default="manual", server_default="manual")
    last_assigned_agent_id: Mapped[int | None] = mapped_column(Integer)
    # Business hours the team's SLAs count in (tickets/business_hours.py):
    # {"timezone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]], ...},
    #  "holidays": ["2026-12-25", ...]}; None: around the clock, in UTC.
    calendar: Mapped[dict | None] = mapped_column(JSON)
    # Where escalations go: this team (to its lead when it has one), else this team's lead.
    escalation_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL")
    )
    members: Mapped[list[Agent]] = relationship(secondary=team_members, back_populates="teams")

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name!r}>"


class Agent(UserMixin, Model):
    """Someone who works tickets: an agent, a team lead or an admin."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="agent")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    presence: Mapped[str] = mapped_column(String(10), default="offline")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    # An account manager: sees only the customers and organizations they manage and
    # what belongs to those customers (agents/access.py).
    own_accounts_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The UI's language ("de" or "en") and time zone; None: the browser's, the default's.
    language: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # What the agent's email replies end with (before the mailbox's signature).
    signature: Mapped[str | None] = mapped_column(Text)
    # A phone number (E.164) that incoming calls ring instead of the browser softphone.
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session's login (get_id): logging out, a new password or a
    # deactivation counts it up, and every copy of an older session stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Loaded when read: the signed-in agent's access checks read them once per request;
    # the other agents a page shows (authors, assignees, the agent list) need only names.
    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.email} {self.role}>"

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated agents cannot log in
        """Whether the agent may log in."""
        return self.active

    def get_id(self) -> str:  # Flask-Login: what the session remembers
        """The agent's id and session version, as the session stores them."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Make every session of this agent invalid (checked on each request)."""
        self.session_version = (self.session_version or 1) + 1

    @property
    def is_admin(self) -> bool:
        """Admins see and change everything."""
        return self.role == "admin"

    @property
    def team_ids(self) -> set[int]:
        """Ids of the agent's teams."""
        return {team.id for team in self.teams}

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        method = current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None
        self.password_hash = generate_password_hash(password, method=method or "scrypt")

    def check_password(self, password: str) -> bool:
        """Compare ``password`` against the stored hash."""
        return bool(self.password_hash and check_password_hash(self.password_hash, password))

    def summary(self) -> dict:
        """The short form used in API and realtime payloads."""
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role}


def hash_token(token: str) -> str:
    """SHA-256 of a token; tokens are random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(Model):
    """A bearer token for the API and realtime; only its hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(20), default="api", server_default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent: Mapped[Agent] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}… agent={self.agent_id} {self.scope}>"

    @classmethod
    def issue(
        cls,
        agent: Agent,
        scope: str = "api",
        name: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """Make a new token for ``agent``; return the row and the clear token (shown once)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        clear = "hd_" + secrets.token_urlsafe(32)
        row = cls(
            agent=agent,
            token_hash=hash_token(clear),
            prefix=clear[:10],
            scope=scope,
            name=name,
            expires_at=expires_at,
        )
        return row, clear

    def usable(self, now: datetime) -> bool:
        """Whether the token still opens anything: not revoked, not expired, its agent
        active."""
        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > now)
            and self.agent.active
        )


class PasswordLink(Model):
    """A set-password link of an invitation or a reset: single use, expiring; only the
    hash of its token is stored (agents/passwords.py)."""

    __tablename__ = "password_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(10))  # "invite" or "reset"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent: Mapped[Agent] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<PasswordLink {self.id} {self.purpose} agent={self.agent_id}>"
