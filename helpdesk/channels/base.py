"""The one small base every channel adapter implements, and the registry to find them.

Inbound: an adapter turns what arrived into an InboundMessage and calls
tickets.ingest.ingest; nothing else. Outbound: ``send`` delivers an agent's
reply on the adapter's channel. Code reaches an adapter only by its kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from helpdesk.agents.models import Agent
    from helpdesk.tickets.models import Message, Ticket


class DeliveryError(Exception):
    """Sending failed; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ChannelAdapter:
    """A channel: its kind, its settings (secrets marked) and how to send on it."""

    kind: ClassVar[str] = ""
    settings: ClassVar[tuple[str, ...]] = ()
    secret_settings: ClassVar[tuple[str, ...]] = ()

    def refusal(self, ticket: Ticket) -> str | None:
        """Why a reply on ``ticket`` must not be sent at all (e.g. an opt-out), if so."""
        return None

    def send(self, message: Message, ticket: Ticket) -> str | None:
        """Deliver ``message`` to the ticket's customer; return the provider's id."""
        raise DeliveryError(f"channel {self.kind!r} cannot send", permanent=True)

    def signature(self, ticket: Ticket, agent: Agent) -> str | None:
        """What an agent's reply on this channel ends with (email: their signature and
        the mailbox's), if anything."""
        return None

    def on_read(self, ticket: Ticket) -> None:
        """An agent has read the ticket (live channels show it to the customer)."""

    def on_agent_typing(self, ticket: Ticket, agent: Agent, typing: bool) -> None:
        """An agent started or stopped typing on the ticket (live channels show it)."""


_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(adapter_class: type[ChannelAdapter]) -> None:
    """Make ``adapter_class`` the adapter for its kind (``channels.init_app``)."""
    if not isinstance(_ADAPTERS.get(adapter_class.kind), adapter_class):
        _ADAPTERS[adapter_class.kind] = adapter_class()


def adapter_for(kind: str) -> ChannelAdapter | None:
    """The adapter registered for ``kind``, if any."""
    return _ADAPTERS.get(kind)
