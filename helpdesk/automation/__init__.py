"""Automation: what the desk does by itself. After an inbound message: the order-status
bot, assignment to an agent, the acknowledgement of a new email ticket; after an order's
status change: the update to an opted-in customer; when an agent comes online: waiting
tickets handed out. Macros are canned replies an agent applies.

Everything here hangs off the core through the hooks ``init_app`` registers: the core
never imports automation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the follow-ups of inbound messages (in this order), the listeners, the
    macros API."""
    from helpdesk import realtime
    from helpdesk.automation import assignment, autoack, bot, order_updates
    from helpdesk.automation.macros import api as macros_api
    from helpdesk.customers import orders
    from helpdesk.tickets import ingest
    from helpdesk.web.api import register_api

    follow_ups = (  # (job, channel or None for every channel, which messages)
        (bot.JOB, None, bot.wanted),
        (assignment.JOB, None, assignment.wanted),
        (autoack.JOB, "email", autoack.wanted),
    )
    for job, channel, wanted in follow_ups:
        ingest.register_follow_up(job, channel, wanted)
    realtime.on_presence_change(assignment.presence_changed)
    orders.on_status_change(order_updates.recorded)
    register_api(app, macros_api.bp)
