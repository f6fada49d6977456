"""REST API v1 for the calling agent's notifications: the list and marking them read."""

from __future__ import annotations

from flask import g, jsonify

from helpdesk import unit_of_work
from helpdesk.notifications import services
from helpdesk.notifications.schemas import NotificationOut, ReadIn, ReadOut
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import Param, documented, integer

bp = api_blueprint("notifications_api", __name__, lock_writes=True)


@bp.get("/notifications")
@documented(
    NotificationOut,
    paged=True,
    query=[Param("unread", integer(minimum=0, maximum=1), "1: only the unread ones")],
)
def list_notifications():
    """The calling agent's notifications, newest first, and how many are unread."""
    unread = int_arg("unread", 0, minimum=0, maximum=1) == 1
    answer = paginate(services.listed(g.agent, unread), services.notification_json)
    answer["unread"] = services.unread_count(g.agent)
    return jsonify(answer)


@bp.post("/notifications/read")
@documented(ReadOut, body=ReadIn)
def mark_read():
    """Mark the calling agent's notifications read: the ones given, or all."""
    body = parse_body(ReadIn)
    marked = services.mark_read(g.agent, None if body.all else body.ids)
    unit_of_work.commit()
    return jsonify({"marked": marked, "unread": services.unread_count(g.agent)})
