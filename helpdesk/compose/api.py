"""REST API for composing: start a conversation, forward a message, a mailbox's signature."""

from __future__ import annotations

from flask import g, jsonify

from helpdesk import unit_of_work
from helpdesk.agents.auth import require_role
from helpdesk.channels.email.mailboxes import set_signature
from helpdesk.channels.models import Channel
from helpdesk.compose import services
from helpdesk.compose.schemas import (
    ConversationIn,
    ConversationOut,
    ForwardIn,
    SignatureIn,
    SignatureOut,
)
from helpdesk.extensions import db
from helpdesk.files import uploads
from helpdesk.tickets.models import Message
from helpdesk.tickets.schemas import MessageOut
from helpdesk.tickets.serializers import message_json, ticket_json
from helpdesk.web.api import api_blueprint, get_or_404, parse_body
from helpdesk.web.openapi import documented

bp = api_blueprint("compose_api", __name__, lock_writes=True)


@bp.post("/conversations")
@documented(ConversationOut, status=201, body=ConversationIn, uploads=True)
def start_conversation():
    """Write to a customer first: a new ticket and its first message, by email or SMS."""
    body = parse_body(ConversationIn, uploads=True)
    ticket, message = services.start(
        g.agent,
        body.customer,
        body.channel,
        body.subject,
        body.body,
        via=body.via,
        to=body.to,
        files=uploads.from_request(),
        cc=body.cc,
        bcc=body.bcc,
    )
    unit_of_work.commit()
    db.session.refresh(message)
    return jsonify({"ticket": ticket_json(ticket), "message": message_json(message)}), 201


@bp.post("/messages/<int:message_id>/forward")
@documented(MessageOut, status=201, body=ForwardIn)
def forward(message_id: int):
    """Forward a message with its files by email (as an outbound message on its ticket)."""
    body = parse_body(ForwardIn)
    message = get_or_404(Message, message_id, "message")
    sent = services.forward(g.agent, message, body.to, body.note)
    unit_of_work.commit()
    db.session.refresh(sent)
    return jsonify(message_json(sent)), 201


@bp.put("/mailboxes/<int:mailbox_id>/signature")
@require_role("admin")
@documented(SignatureOut, body=SignatureIn)
def mailbox_signature(mailbox_id: int):
    """Set the text every email reply from a mailbox ends with (admins; empty: none)."""
    body = parse_body(SignatureIn)
    mailbox = get_or_404(Channel, mailbox_id, "mailbox")
    set_signature(mailbox, body.signature)
    unit_of_work.commit()
    return jsonify({"id": mailbox.id, "signature": (mailbox.settings or {}).get("signature")})
