"""``@name`` mentions in an internal note: which agents a note names.

An agent is mentioned by ``@`` followed by their email address's local part, their full
name, or their name without spaces, in any case, not followed by a letter or digit (so
``@anna`` does not name ``annabel``). The ``@`` must not follow a word character (an
email address in the text mentions nobody).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.extensions import db

_AT = re.compile(r"(?<![\w.+-])@(?=\w)")


class Named(Protocol):
    """An agent's id, name and email (a loaded Agent, or a row of those three columns)."""

    id: int
    name: str
    email: str


N = TypeVar("N", bound=Named)


def handles(agent: Named) -> set[str]:
    """What may follow ``@`` to name ``agent``, lower-cased."""
    name = " ".join(agent.name.split()).casefold()
    found = {agent.email.split("@", 1)[0].casefold(), name, name.replace(" ", "")}
    return {h for h in found if len(h) >= 2}


def names_in(text: str, agents: Sequence[N]) -> list[N]:
    """The agents among ``agents`` that ``text`` mentions, by id."""
    folded = text.casefold()
    starts = [m.end() for m in _AT.finditer(folded)]
    found = []
    for agent in agents:
        for handle in handles(agent):
            if any(_names(folded, start, handle) for start in starts):
                found.append(agent)
                break
    return sorted(found, key=lambda a: a.id)


def _names(folded: str, start: int, handle: str) -> bool:
    """Whether ``handle`` stands whole at ``start`` of ``folded``."""
    if not folded.startswith(handle, start):
        return False
    end = start + len(handle)
    return end == len(folded) or not (folded[end].isalnum() or folded[end] == "_")


def mentioned(text: str) -> list[Agent]:
    """The active agents an internal note's text mentions (none without an ``@``)."""
    if "@" not in text:
        return []
    # Names and addresses only: the few agents named are loaded whole.
    rows = db.session.execute(select(Agent.id, Agent.name, Agent.email).where(Agent.active))
    named = names_in(text, list(rows))
    return [agent for row in named if (agent := db.session.get(Agent, row.id)) is not None]
