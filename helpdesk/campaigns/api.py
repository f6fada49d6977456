"""REST API v1 for campaigns (leads and admins): drafts, preview, test send, send now
or at a time, cancel, and the counts."""

from __future__ import annotations

from flask import g, jsonify, request

from helpdesk import unit_of_work
from helpdesk.campaigns import services
from helpdesk.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPatch,
    PreviewIn,
    PreviewOut,
    SendIn,
)
from helpdesk.web.api import api_blueprint, next_page_url, page_args, parse_body
from helpdesk.web.openapi import documented

bp = api_blueprint("campaigns_api", __name__, lock_writes=True)


@bp.get("/campaigns")
@documented(CampaignOut, paged=True)
def list_campaigns():
    """The campaigns, newest first (without counts: ask one campaign for them)."""
    number, per_page = page_args()
    campaigns, more = services.listed(g.agent, number, per_page)
    return jsonify(
        {
            "items": [services.as_json(c, with_counts=False) for c in campaigns],
            "next": next_page_url(number, per_page) if more else None,
        }
    )


@bp.post("/campaigns")
@documented(CampaignOut, status=201, body=CampaignIn)
def create_campaign():
    """A new draft campaign."""
    services.allowed(g.agent)
    body = parse_body(CampaignIn)
    campaign = services.create(g.agent, body.model_dump())
    unit_of_work.commit()
    return jsonify(services.as_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
@documented(CampaignOut)
def get_campaign(campaign_id: int):
    """One campaign with its status and counts."""
    return jsonify(services.as_json(services.get(campaign_id, g.agent)))


@bp.patch("/campaigns/<int:campaign_id>")
@documented(CampaignOut, body=CampaignPatch)
def update_campaign(campaign_id: int):
    """Change a draft."""
    campaign = services.get(campaign_id, g.agent)
    body = parse_body(CampaignPatch)
    services.update(campaign, g.agent, body.model_dump(exclude_unset=True))
    unit_of_work.commit()
    return jsonify(services.as_json(campaign))


@bp.post("/campaigns/<int:campaign_id>/preview")
@documented(PreviewOut, body=PreviewIn)
def preview_campaign(campaign_id: int):
    """The campaign as one customer would get it."""
    campaign = services.get(campaign_id, g.agent)
    body = parse_body(PreviewIn) if request.get_data() else PreviewIn()
    return jsonify(services.preview(campaign, g.agent, body.customer))


@bp.post("/campaigns/<int:campaign_id>/test")
@documented(None, status=202)
def test_campaign(campaign_id: int):
    """Send the campaign to oneself (email address or phone), filled in with one's name."""
    services.send_test(services.get(campaign_id, g.agent), g.agent)
    unit_of_work.commit()
    return "", 202


@bp.post("/campaigns/<int:campaign_id>/send")
@documented(CampaignOut, status=202, body=SendIn)
def send_campaign(campaign_id: int):
    """Send the campaign now, or at ``at``."""
    campaign = services.get(campaign_id, g.agent)
    body = parse_body(SendIn) if request.get_data() else SendIn()
    services.send(campaign, g.agent, body.at)
    unit_of_work.commit()
    return jsonify(services.as_json(campaign)), 202


@bp.post("/campaigns/<int:campaign_id>/cancel")
@documented(CampaignOut)
def cancel_campaign(campaign_id: int):
    """Stop a scheduled or running campaign: nothing more goes out."""
    campaign = services.cancel(services.get(campaign_id, g.agent))
    unit_of_work.commit()
    return jsonify(services.as_json(campaign))
