"""Account managers (``own_accounts_only``): every route of the URL map, walked as one.

The walk enumerates ``app.url_map`` at test time and fails on a route it has no case
for: a route added later must say here what an account manager gets from it. Each id in
a path is filled with another account's customer, organization, ticket or order, and
the answer must be 404 (the same as for an id that does not exist), unless the
agent's role refuses the route for every id alike (403); lists, searches, lookups and
pages must leave the other account's things out and show the agent's own.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent, Team
from helpdesk.customers.models import Customer, Note, Order, Organization
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Attachment, Call, Message, Ticket
from tests.fixtures.agents import Api, form_csrf, login

V1 = "/api/v1"
MISSING = 999999

# Campaigns answer 404 to account managers whatever the id (test_campaigns.py walks them).
CAMPAIGNS = "campaigns: none for account managers (tests/campaigns walks every route)"

# Routes with nothing of a customer's behind them, and why.
NOT_ABOUT_CUSTOMERS = {
    "static": "static files",
    "health.healthz": "the health check",
    "agents.login": "the login form",
    "agents.logout": "ends the agent's own session",
    "api_docs.openapi_json": "the API's description, no data",
    "api_docs.api_reference": "the API's description, no data",
    "chat.widget": "the chat widget's script",
    "chat.texts": "the chat widget's words in the visitor's language",
    "profile.profile": "the agent's own language and time zone",
    "profile.save_profile": "the agent's own language and time zone",
    "chat.confirm_page": "a visitor's confirmation link (the link is the proof)",
    "chat.confirm": "a visitor's confirmation link (the link is the proof)",
    "chat.try_chat": "the demo page embedding the widget",
    "inbox.home": "redirects to the inbox (walked as inbox.inbox)",
    "twilio_webhooks.sms": "Twilio's signed webhooks, no agent",
    "twilio_webhooks.sms_status": "Twilio's signed webhooks, no agent",
    "twilio_webhooks.voice": "Twilio's signed webhooks, no agent",
    "twilio_webhooks.voice_status": "Twilio's signed webhooks, no agent",
    "twilio_webhooks.voice_recording": "Twilio's signed webhooks, no agent",
    # Signed by Twilio; the caller is the agent's softphone, whose access to the customer
    # it checks (tests/channels/twilio/test_calling.py: a hidden customer answers 404).
    "twilio_webhooks.voice_outbound": "Twilio's signed webhooks (the dialling agent checked)",
    "metrics.scrape": "Prometheus' scrape: counts and timings, no customer data",
    "macros_api.list_macros": "canned replies: text, no customer",
    "macros_api.create_macro": "canned replies: text, no customer",
    "macros_api.get_macro": "canned replies: text, no customer",
    "macros_api.update_macro": "canned replies: text, no customer",
    "macros_api.delete_macro": "canned replies: text, no customer",
    "sla_api.list_policies": "SLA targets; an organization only by id",
    "sla_api.create_policy": "SLA targets; an organization only by id",
    "sla_api.get_policy": "SLA targets; an organization only by id",
    "sla_api.update_policy": "SLA targets; an organization only by id",
    "sla_api.delete_policy": "SLA targets; an organization only by id",
    "sla_api.list_teams": "teams and their hours",
    "sla_api.get_team": "teams and their hours",
    "sla_api.update_team": "teams and their hours",
    "agents_api.list_agents": "the desk's agents (test_the_agents_api_shows_the_flag)",
    "agents_api.me": "the agent themselves (test_the_agents_api_shows_the_flag)",
    "voice_api.voice_token": "the agent's own softphone token: no customer",
    "agents_api.create_agent": "admins manage agents (test_admins_set_the_flag)",
    "agents_api.update_agent": "admins manage agents (test_admins_set_the_flag)",
    "channel_settings.mailbox_list": "admins' channel settings (404 to others): no customer",
    "channel_settings.new_mailbox": "admins' channel settings (404 to others): no customer",
    "channel_settings.edit_mailbox": "admins' channel settings (404 to others): no customer",
    "channel_settings.test_connection": "admins' channel settings (404 to others): no customer",
    "channel_settings.pause_mailbox": "admins' channel settings (404 to others): no customer",
    "channel_settings.resume_mailbox": "admins' channel settings (404 to others): no customer",
    "channel_settings.mailbox_oauth_start": "admins' mailbox sign-in (404 to others): no customer",
    "channel_settings.mailbox_oauth_callback": "admins' mailbox sign-in (404 to others)",
    "channel_settings.number_list": "admins' channel settings (404 to others): no customer",
    "channel_settings.new_number": "admins' channel settings (404 to others): no customer",
    "channel_settings.edit_number": "admins' channel settings (404 to others): no customer",
    "channel_settings.remove_number": "admins' channel settings (404 to others): no customer",
    "channel_settings.widget_list": "admins' channel settings (404 to others): no customer",
    "channel_settings.new_widget": "admins' channel settings (404 to others): no customer",
    "channel_settings.edit_widget": "admins' channel settings (404 to others): no customer",
    "channel_settings.rotate_secret": "admins' channel settings (404 to others): no customer",
    "customers.new_customer": "the empty form of a new customer (created through the API)",
    "organizations.new_organization": "the empty form of a new organization",
    "fields_api.list_fields": "custom field definitions: keys and labels, no values",
    "fields_api.get_field": "custom field definitions: keys and labels, no values",
    "fields_api.create_field": "custom field definitions: keys and labels, no values",
    "fields_api.update_field": "custom field definitions: keys and labels, no values",
    "fields_api.delete_field": "custom field definitions (admins; values go with them)",
    "audit.erased": "the page after an erasure: says it is done, names nobody",
    "surveys.survey_page": "a customer's survey link (the token is the proof), no agent",
    "surveys.answer": "a customer's survey link (the token is the proof), no agent",
    "reports_api.weekly_mail": "the agent's own weekly-mail choice",
    "reports_api.choose_weekly_mail": "the agent's own weekly-mail choice",
    "webhooks_api.list_webhooks": "admins' outbound webhooks (403 to others): no customer",
    "webhooks_api.create_webhook": "admins' outbound webhooks (403 to others): no customer",
    "webhooks_api.delete_webhook": "admins' outbound webhooks (403 to others): no customer",
    "webhooks_api.list_deliveries": "admins' outbound webhooks (403 to others): no customer",
    "webhooks_api.redeliver": "admins' outbound webhooks (403 to others): no customer",
    "mailchimp_api.list_links": "admins' MailChimp links (403 to others): no customer",
    "mailchimp_api.create_link": "admins' MailChimp links (403 to others): no customer",
    "mailchimp_api.sync_now": "admins' MailChimp links (403 to others): no customer",
    "mailchimp_api.delete_link": "admins' MailChimp links (403 to others): no customer",
    "mailchimp_webhook.event": "MailChimp's callback (the secret in its URL), no agent",
    "campaigns.campaign": CAMPAIGNS,
    "campaigns.campaigns": CAMPAIGNS,
    "campaigns.new_campaign": CAMPAIGNS,
    "campaigns_api.cancel_campaign": CAMPAIGNS,
    "campaigns_api.create_campaign": CAMPAIGNS,
    "campaigns_api.get_campaign": CAMPAIGNS,
    "campaigns_api.list_campaigns": CAMPAIGNS,
    "campaigns_api.preview_campaign": CAMPAIGNS,
    "campaigns_api.send_campaign": CAMPAIGNS,
    "campaigns_api.test_campaign": CAMPAIGNS,
    "campaigns_api.update_campaign": CAMPAIGNS,
    "unsubscribe.unsubscribe": "a campaign mail's unsubscribe (the recipient's signed token)",
    "unsubscribe.unsubscribe_page": "a campaign mail's unsubscribe (the recipient's signed token)",
    "tokens_api.list_tokens": "the agent's own API tokens (an admin's: everyone's)",
    "tokens_api.create_token": "the agent's own API tokens",
    "tokens_api.revoke_token": "the agent's own API tokens (another's: 404)",
    "password.set_password": "a set-password link (the token is the proof), no customer",
    "settings.index": "the settings sections the agent may open",
    "settings_agents.agents": "admins manage agents: names, roles, teams",
    "settings_agents.new_agent": "admins manage agents: names, roles, teams",
    "settings_agents.edit_agent": "admins manage agents: names, roles, teams",
    "settings_agents.set_active": "admins manage agents: names, roles, teams",
    "settings_agents.reset_password": "admins manage agents: names, roles, teams",
    "settings_teams.teams": "teams, their members and hours",
    "settings_teams.new_team": "teams, their members and hours",
    "settings_teams.edit_team": "teams, their members and hours",
    "settings_sla.policy_list": "SLA targets; an organization only by id",
    "settings_sla.delete_policy": "SLA targets; an organization only by id",
    "settings_macros.macro_list": "canned replies: text, no customer",
    "settings_macros.new_macro": "canned replies: text, no customer",
    "settings_macros.edit_macro": "canned replies: text, no customer",
    "settings_macros.delete_macro": "canned replies: text, no customer",
    "settings_fields.field_list": "custom field definitions: keys and labels, no values",
    "settings_fields.new_field": "custom field definitions: keys and labels, no values",
    "settings_fields.edit_field": "custom field definitions: keys and labels, no values",
    "settings_fields.delete_field": "custom field definitions (admins; values go with them)",
    "settings_tokens.token_list": "the agent's own API tokens (an admin's: everyone's)",
    "settings_tokens.create_token": "the agent's own API tokens",
    "settings_tokens.revoke_token": "the agent's own API tokens (another's: 404)",
    "notifications.settings": "the agent's own choice of notification emails",
    "chat.visitor_file": "a chat visitor's signed file link (the link is the proof)",
    "compose.signature": "the agent's own signature",
    "compose_api.mailbox_signature": "a mailbox's signature (admins)",
}

# Routes whose path names another account's thing: 404 (or the role's 403 for any id).
# The value is the JSON body of a write, valid so that only the access rule can refuse.
BY_ID = {
    "customers_api.get_customer": None,
    "customers_api.update_customer": {"name": "Mallory"},
    "customers_api.erase_customer": None,
    "customers_api.customer_timeline": None,
    "customers_api.merge_customer": "merge",
    "customers_api.export_customer": None,
    "customers_api.add_note": {"body": "peeking"},
    "customers_api.customer_orders": None,
    "customers_api.get_order": None,
    "customers_api.put_order": "order",
    "organizations_api.get_organization": None,
    "organizations_api.update_organization": {"name": "Mallory Ltd"},
    "tickets_api.get_ticket": None,
    "tickets_api.update_ticket": {"status": "solved"},
    "tickets_api.list_messages": None,
    "tickets_api.post_message": {"body": "peeking", "internal": True},
    "tickets_api.escalate": {"reason": "peeking"},
    "macros_api.apply_macro": {},
    "customers.customer": None,
    "customers.panel": None,
    "customers.organization": None,
    "tickets.ticket": None,
    "tickets.thread_after": None,
    "audit.erase_customer": None,
    "duplicates_api.merge_preview": "merge",
    "files.download": None,
    "compose_api.forward": {"to": "peek@example.com"},
    "voice_api.transfer_call": "transfer",
    "voice_api.hold_call": None,
    "voice_api.resume_call": None,
}

# Lists, searches, lookups and pages without an id in the path: walked by a function
# below that checks what they show.
LISTS = {
    "customer_list_api.list_customers",
    "customer_list_api.export_customers",
    "customer_list_api.bulk_action",
    "customer_list.customers",
    "segments_api.list_segments",
    "segments_api.create_segment",
    "segments_api.get_segment",
    "segments_api.update_segment",
    "segments_api.delete_segment",
    "segments_api.segment_customers",
    "customers_api.create_customer",
    "customers_api.lookup",
    "organizations_api.list_organizations",
    "organizations_api.create_organization",
    "organizations.organizations",
    "tickets_api.list_tickets",
    "tickets_api.create_ticket",
    "tickets_api.bulk_reassign",
    "cti_api.cti_event",
    "inbox.inbox",
    "inbox.rows",
    "board.board",
    "board.rows",
    "duplicates_api.list_duplicates",
    "duplicates_api.dismiss",
    "notifications_api.list_notifications",
    "notifications_api.mark_read",
    "duplicates.duplicates",
    "audit_api.list_events",
    "audit.audit_log",
    "imports.import_page",
    "reports.page",
    "reports.body",
    "reports_api.overview",
    "reports_api.export_report",
    "imports_api.create_import",
    "imports_api.get_import",
    "imports_api.import_report",
    "imports_api.list_imports",
    "imports_api.run_import",
    "settings_sla.new_policy",
    "settings_sla.edit_policy",
    "compose.new_ticket",
    "compose.forward",
    "compose_api.start_conversation",
}


class Accounts:
    """Two accounts on one team: the account manager's and another's."""


@pytest.fixture(params=["agent", "lead", "admin"])
def accounts(request, api, make_agent, make_customer, make_ticket, make_token, client):
    """An account manager (of each role, in team Support) managing Mia directly and Max
    through Mine GmbH; Olga of Other AG is someone else's. Each has a ticket in
    Support, Olga's assigned to the account manager, an order and a call."""
    a = Accounts()
    a.role = request.param
    a.anna = make_agent(
        "anna.konto@example.com", role=a.role, teams=["Support"], own_accounts_only=True
    )
    a.sam = make_agent("sam@example.com", teams=["Support"])
    support = db.session.execute(select(Team.id).where(Team.name == "Support")).scalar_one()
    a.mine_org = api.post(f"{V1}/organizations", json={"name": "Mine GmbH"}).json["id"]
    a.other_org = api.post(f"{V1}/organizations", json={"name": "Other AG"}).json["id"]
    api.patch(f"{V1}/organizations/{a.mine_org}", json={"account_manager": a.anna.id})
    api.patch(f"{V1}/organizations/{a.other_org}", json={"account_manager": a.sam.id})
    a.mia = make_customer("Mia Mine", emails=["mia@example.com"], phones=["030 1111111"])
    a.max = make_customer(
        "Max Mine", emails=["max@mine.example"], organization_id=a.mine_org, key_person=True
    )
    a.olga = make_customer(
        "Olga Other",
        emails=["olga@other.example"],
        phones=["030 2222222"],
        organization_id=a.other_org,
        key_person=True,
    )
    db.session.get(Customer, a.mia.id).account_manager_id = a.anna.id
    db.session.commit()
    a.mia_ticket = make_ticket(a.mia, "Mias parcel", body="where is it", team=support)
    a.max_ticket = make_ticket(a.max, "Max invoice", body="wrong sum", team=support)
    a.olga_ticket = make_ticket(a.olga, "Olgas secret", body="confidential", team=support)
    # Assigned to the account manager back when Olga was theirs (no longer assignable now).
    db.session.get(Ticket, a.olga_ticket).assignee_id = a.anna.id
    for number, who in (("M-1", a.mia), ("O-1", a.olga)):
        assert api.put(f"{V1}/orders/{number}", json={"customer": who.id}).status_code == 201
    for n, who in enumerate((a.mia, a.olga)):
        call = Call(provider="cti", provider_id=f"c{n}", direction="in", customer_id=who.id)
        db.session.add(call)
        db.session.flush()
        setattr(a, f"{who.name.split()[0].lower()}_call", call.id)
    api.post(f"{V1}/customers/{a.olga.id}/notes", json={"body": "Olga note"})
    a.macro = api.post(f"{V1}/macros", json={"name": "Hi", "body": "Hello"}).json["id"]
    for who in ("mia", "olga"):  # a file on each ticket's first message
        first = db.session.execute(
            select(Message).where(Message.ticket_id == getattr(a, f"{who}_ticket"))
        ).scalar_one()
        stored = Attachment(filename=f"{who}.txt", content_type="text/plain", size=2)
        stored.sha256 = attachments.store(b"hi")
        first.attachments.append(stored)
        db.session.flush()
        setattr(a, f"{who}_message", first.id)
        setattr(a, f"{who}_attachment", stored.id)
    db.session.commit()
    a.api = Api(client, make_token(a.anna))
    a.sam_api = Api(client, make_token(a.sam))
    a.cti = Api(client, make_token(a.anna, "cti"))
    return a


def ids_of(a: Accounts, whose: str) -> dict:
    """Path values naming ``whose`` things ("mine", "other" or "missing")."""
    if whose == "missing":
        ids = ("customer_id", "org_id", "organization_id", "ticket_id", "message_id", "call_id")
        return dict.fromkeys((*ids, "attachment_id"), MISSING) | {
            "number": "NOPE-1",
            "macro_id": a.macro,
        }
    mine = whose == "mine"
    return {
        "customer_id": a.mia.id if mine else a.olga.id,
        "org_id": a.mine_org if mine else a.other_org,
        "organization_id": a.mine_org if mine else a.other_org,
        "ticket_id": a.mia_ticket if mine else a.olga_ticket,
        "number": "M-1" if mine else "O-1",
        "macro_id": a.macro,
        "message_id": a.mia_message if mine else a.olga_message,
        "attachment_id": a.mia_attachment if mine else a.olga_attachment,
        "call_id": a.mia_call if mine else a.olga_call,
    }


def snapshot(a: Accounts) -> tuple:
    """What a refused write must leave as it was."""
    db.session.expire_all()
    olga = db.session.get(Customer, a.olga.id)
    counts = tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Organization, Ticket, Message, Note, Order)
    )
    ticket = db.session.get(Ticket, a.olga_ticket)
    org = db.session.get(Organization, a.other_org)
    order = db.session.execute(select(Order).where(Order.number == "O-1")).scalar_one()
    return counts, olga.name, ticket.status, ticket.priority, org.name, order.status


def body_for(a: Accounts, endpoint: str):
    """The body a write sends."""
    body = BY_ID.get(endpoint)
    if body == "merge":
        return {"from": a.mia.id}
    if body == "order":
        return {"customer": a.mia.id, "status": "cancelled"}
    if body == "transfer":
        return {"agent": a.sam.id}
    return body


def open_path(a: Accounts, web, rule, method: str, whose: str):
    """Call ``rule`` with ``whose`` ids, as an API client or a logged-in page."""
    path = rule.build(ids_of(a, whose), append_unknown=False)[1]
    body = body_for(a, rule.endpoint) if method != "GET" else None
    if path.startswith(V1):
        return a.api.open(path, method=method, json=body), path
    return web.open(path, method=method), path


def test_every_route_answers_an_account_manager_only_for_their_accounts(app, client, accounts):
    a = accounts
    rules = [r for r in app.url_map.iter_rules()]
    endpoints = {r.endpoint for r in rules}
    unknown = endpoints - set(NOT_ABOUT_CUSTOMERS) - set(BY_ID) - LISTS
    assert not unknown, f"routes without an account-manager case here: {sorted(unknown)}"
    stale = (set(NOT_ABOUT_CUSTOMERS) | set(BY_ID) | LISTS) - endpoints
    assert not stale, f"cases for routes that are gone: {sorted(stale)}"

    web = login(client.application.test_client(), a.anna.email)
    before = snapshot(a)
    walked = set()
    for rule in rules:
        if rule.endpoint not in BY_ID:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response, path = open_path(a, web, rule, method, "other")
            where = f"{a.role}: {method} {path} ({rule.endpoint}) answered {response.status_code}"
            if response.status_code == 403:
                # The role refuses the route whatever the id: nothing revealed.
                assert open_path(a, web, rule, method, "missing")[0].status_code == 403, where
            else:
                assert response.status_code == 404, where
                if path.startswith(V1) and method != "PUT":  # (a PUT of a new number creates)
                    missing = open_path(a, web, rule, method, "missing")[0]
                    assert response.json == missing.json, where  # as if it did not exist
                if method == "GET":  # and the same route shows the agent's own
                    mine, _ = open_path(a, web, rule, method, "mine")
                    assert mine.status_code == 200, f"{where}; own: {mine.status_code}"
            walked.add(rule.endpoint)
    assert snapshot(a) == before, "a refused request wrote something"
    assert walked == set(BY_ID)
    assert set(CHECKS) == LISTS
    for check in CHECKS.values():
        check(a, web)


# --- lists, searches, lookups, pages -----------------------------------------------


def all_items(api, url, **args) -> list[dict]:
    """Every item of a paginated list."""
    items, first = [], True
    while url:
        response = api.get(url, query_string=args if first else None)
        assert response.status_code == 200, (url, response.json)
        items += response.json["items"]
        url, first = response.json["next"], False
    return items


def check_customer_list(a: Accounts, web) -> None:
    found = {c["id"] for c in all_items(a.api, f"{V1}/customers")}
    assert found == {a.mia.id, a.max.id}
    assert all_items(a.api, f"{V1}/customers", q="olga") == []
    assert all_items(a.api, f"{V1}/customers", email="olga@other.example") == []
    assert [c["id"] for c in all_items(a.api, f"{V1}/customers", q="mia")] == [a.mia.id]


def check_customer_page(a: Accounts, web) -> None:
    page = web.get("/customers").get_data(as_text=True)
    assert "Mia Mine" in page and "Max Mine" in page and "Olga Other" not in page
    assert "Olga Other" not in web.get("/customers?q=olga").get_data(as_text=True)


def check_export(a: Accounts, web) -> None:
    response = a.api.get(f"{V1}/customers/export", query_string={"format": "csv"})
    if a.role == "agent":
        assert response.status_code == 403  # exports are for leads and admins
        return
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Mia Mine" in text and "Max Mine" in text
    assert "Olga" not in text and "olga@other.example" not in text


def check_segments(a: Accounts, web) -> None:
    """Sam's segments: a private one is not there for the account manager; a shared one
    shows only the account manager's own customers."""
    sams = a.sam_api
    private = sams.post(f"{V1}/segments", json={"name": "Sams", "filter": {"q": "olga"}})
    shared = sams.post(f"{V1}/segments", json={"name": "Everyone", "filter": {}, "shared": True})
    assert private.status_code == shared.status_code == 201
    listed = {s["id"] for s in all_items(a.api, f"{V1}/segments")}
    assert private.json["id"] not in listed and shared.json["id"] in listed
    for path in (f"/segments/{private.json['id']}", f"/segments/{private.json['id']}/customers"):
        assert a.api.get(V1 + path).status_code == 404, path
        assert a.api.get(V1 + path).json == a.api.get(f"{V1}/segments/{MISSING}").json
    assert a.api.patch(f"{V1}/segments/{private.json['id']}", json={"name": "x"}).status_code == 404
    assert a.api.delete(f"{V1}/segments/{private.json['id']}").status_code == 404
    found = a.api.get(f"{V1}/segments/{shared.json['id']}/customers").json
    assert {c["id"] for c in found["items"]} == {a.mia.id, a.max.id} and found["count"] == 2
    mine = a.api.post(f"{V1}/segments", json={"name": "Mine", "filter": {"q": "olga"}})
    assert mine.status_code == 201
    assert a.api.get(f"{V1}/segments/{mine.json['id']}/customers").json["count"] == 0
    assert a.api.delete(f"{V1}/segments/{mine.json['id']}").status_code == 204
    for made in (private, shared):
        assert sams.delete(f"{V1}/segments/{made.json['id']}").status_code == 204


def check_customer_bulk(a: Accounts, web) -> None:
    olga = a.api.post(
        f"{V1}/customers/bulk", json={"action": "tag", "ids": [a.olga.id], "tag": "x"}
    )
    assert olga.status_code == 200 and olga.json == {"changed": 0}
    every = a.api.post(f"{V1}/customers/bulk", json={"action": "tag", "filter": {}, "tag": "x"})
    assert every.status_code == 200 and every.json == {"changed": 2}  # Mia and Max
    db.session.expire_all()
    assert "x" not in (db.session.get(Customer, a.olga.id).tags or [])
    a.api.post(f"{V1}/customers/bulk", json={"action": "untag", "filter": {}, "tag": "x"})


def check_create_customer(a: Accounts, web) -> None:
    refused = a.api.post(f"{V1}/customers", json={"name": "X", "organization": a.other_org})
    unknown = a.api.post(f"{V1}/customers", json={"name": "X", "organization": MISSING})
    assert refused.status_code == 422 and refused.json == unknown.json
    made = a.api.post(f"{V1}/customers", json={"name": "Neu Kunde"})
    assert made.status_code == 201
    assert a.api.get(f"{V1}/customers/{made.json['id']}").status_code == 200  # theirs


def check_lookup(a: Accounts, web) -> None:
    other = a.api.get(f"{V1}/lookup", query_string={"email": "olga@other.example"}).json
    unknown = a.api.get(f"{V1}/lookup", query_string={"email": "nobody@example.com"}).json
    assert other["customer"] is None and other["open_tickets"] == []
    assert {k: v for k, v in other.items() if k != "query"} == {
        k: v for k, v in unknown.items() if k != "query"
    }
    mine = a.api.get(f"{V1}/lookup", query_string={"phone": "030 1111111"}).json
    assert mine["customer"]["id"] == a.mia.id
    assert [t["id"] for t in mine["open_tickets"]] == [a.mia_ticket]


def check_organization_list(a: Accounts, web) -> None:
    assert [o["id"] for o in all_items(a.api, f"{V1}/organizations")] == [a.mine_org]
    assert all_items(a.api, f"{V1}/organizations", q="other") == []
    people = a.api.get(f"{V1}/organizations/{a.mine_org}").json["people"]
    assert [p["id"] for p in people] == [a.max.id]


def check_organization_page(a: Accounts, web) -> None:
    page = web.get("/organizations").get_data(as_text=True)
    assert "Mine GmbH" in page and "Other AG" not in page
    assert "Other AG" not in web.get("/organizations?q=other").get_data(as_text=True)


def check_create_organization(a: Accounts, web) -> None:
    made = a.api.post(f"{V1}/organizations", json={"name": "Neu GmbH"})
    assert made.status_code == 201 and made.json["account_manager"] == a.anna.id
    assert a.api.get(f"{V1}/organizations/{made.json['id']}").status_code == 200


def check_ticket_list(a: Accounts, web) -> None:
    found = {t["id"] for t in all_items(a.api, f"{V1}/tickets")}
    # Olga's ticket is assigned to the account manager, and still hidden: not their account.
    assert found == {a.mia_ticket, a.max_ticket}
    assert all_items(a.api, f"{V1}/tickets", customer=a.olga.id) == []
    assert all_items(a.api, f"{V1}/tickets", q="secret") == []
    assert all_items(a.api, f"{V1}/tickets", q=f"#{a.olga_ticket}") == []
    assert {t["id"] for t in all_items(a.api, f"{V1}/tickets", assignee="me")} == set()


def check_create_ticket(a: Accounts, web) -> None:
    refused = a.api.post(f"{V1}/tickets", json={"customer": a.olga.id, "subject": "x"})
    unknown = a.api.post(f"{V1}/tickets", json={"customer": MISSING, "subject": "x"})
    assert refused.status_code == 422 and refused.json == unknown.json
    made = a.api.post(f"{V1}/tickets", json={"customer": a.max.id, "subject": "for Max"})
    assert made.status_code == 201


def check_bulk(a: Accounts, web) -> None:
    response = a.api.post(f"{V1}/tickets/bulk", json={"ids": [a.olga_ticket], "assignee": None})
    assert response.status_code in (403, 404), response.json
    if response.status_code == 404:
        missing = a.api.post(f"{V1}/tickets/bulk", json={"ids": [MISSING], "assignee": None})
        assert response.json["error"]["message"] == missing.json["error"]["message"]
        assert response.json["error"]["fields"] == {"ids": [a.olga_ticket]}


def check_cti(a: Accounts, web) -> None:
    other = a.cti.post(
        f"{V1}/cti/events", json={"event": "newCall", "callId": "w1", "from": "030 2222222"}
    )
    assert other.status_code == 201 and other.json["customer"] is None
    assert other.json["open_tickets"] == [] and other.json["last_contact"] is None
    assert other.json["call"]["customer_id"] is None
    mine = a.cti.post(
        f"{V1}/cti/events", json={"event": "newCall", "callId": "w2", "from": "030 1111111"}
    )
    assert mine.status_code == 201 and mine.json["customer"]["id"] == a.mia.id
    assert mine.json["call"]["customer_id"] == a.mia.id
    ended = a.cti.post(f"{V1}/cti/events", json={"event": "hangup", "callId": "w1"})
    assert ended.status_code == 200 and ended.json["call"]["customer_id"] is None


def check_inbox(a: Accounts, web) -> None:
    for view in ("all", "team", "mine", "unassigned"):
        page = web.get(f"/inbox?view={view}").get_data(as_text=True)
        assert "Olgas secret" not in page and "Olga Other" not in page, view
    page = web.get("/inbox?view=team").get_data(as_text=True)
    assert "Mias parcel" in page and "Max invoice" in page
    assert "Mias parcel" in web.get("/inbox?view=all&q=parcel").get_data(as_text=True)
    assert "Olgas" not in web.get("/inbox?view=all&q=secret").get_data(as_text=True)


def check_inbox_rows(a: Accounts, web) -> None:
    response = web.get(f"/inbox/rows?view=all&ids={a.olga_ticket},{a.mia_ticket}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Mias parcel" in text and "Olgas secret" not in text


def check_board(a: Accounts, web) -> None:
    for path in ("/board", "/board/rows"):
        response = web.get(path)
        if a.role == "agent":
            assert response.status_code == 403  # the board is for leads and admins
            continue
        text = response.get_data(as_text=True)
        assert response.status_code == 200 and "Mias parcel" in text, path
        assert "Olgas secret" not in text, path


def check_duplicates(a: Accounts, web) -> None:
    """Twins of Olga (someone else's) and of Max (theirs) in the same organizations: the
    account manager is offered Max's pair only."""
    olga2 = Customer(name="olga  other", organization_id=a.other_org)
    max2 = Customer(name="MAX MINE", organization_id=a.mine_org)
    db.session.add_all([olga2, max2])
    unit_of_work.commit()  # and the stored pairs' refresh that waits for it
    try:
        pairs = {(p["a"], p["b"]) for p in all_items(a.api, f"{V1}/customers/duplicates")}
        assert pairs == {tuple(sorted((a.max.id, max2.id)))}
        page = web.get("/customers/duplicates").get_data(as_text=True)
        assert "MAX MINE" in page and "olga  other" not in page.lower()
    finally:
        db.session.delete(olga2)
        db.session.delete(max2)
        unit_of_work.commit()


def check_dismiss(a: Accounts, web) -> None:
    other = a.api.post(f"{V1}/customers/duplicates/dismiss", json={"a": a.mia.id, "b": a.olga.id})
    missing = a.api.post(f"{V1}/customers/duplicates/dismiss", json={"a": a.mia.id, "b": MISSING})
    assert other.status_code == missing.status_code == 404 and other.json == missing.json
    assert (
        a.api.post(
            f"{V1}/customers/duplicates/dismiss", json={"a": a.mia.id, "b": a.max.id}
        ).status_code
        == 204
    )


def check_audit(a: Accounts, web) -> None:
    """The audit log is about every customer: refused to account managers, admins too."""
    assert a.api.get(f"{V1}/audit").status_code == 403
    assert web.get("/settings/audit").status_code == 403


def check_imports(a: Accounts, web) -> None:
    """Imports create and merge customers of every account: refused to account managers."""
    file = {"filename": "c.csv", "content": "name,email\nX,x@example.com\n"}
    assert a.api.post(f"{V1}/imports", json=file).status_code == 403
    assert a.api.get(f"{V1}/imports").status_code == 403
    for path in (f"{V1}/imports/{MISSING}", f"{V1}/imports/{MISSING}/report"):
        assert a.api.get(path).status_code == 403, path
    assert a.api.post(f"{V1}/imports/{MISSING}/run", json={}).status_code == 403
    assert web.get("/customers/import").status_code == 403


def check_reports(a: Accounts, web) -> None:
    """The same agent with and without the flag: the reports lose Olga's ticket."""
    from datetime import date

    today = date.today().isoformat()
    args = {"from": today, "to": today, "tz": "UTC"}

    def overview(own: bool) -> dict:
        db.session.get(Agent, a.anna.id).own_accounts_only = own
        db.session.commit()
        response = a.api.get(f"{V1}/reports/overview", query_string=args)
        assert response.status_code == 200, response.json
        return response.json

    everything, own = overview(False), overview(True)
    if a.role == "agent":  # an agent's reports are their own work: nothing of Olga's either
        assert own["created"] <= everything["created"]
    else:
        assert everything["created"] - own["created"] == 1  # Olga's ticket
    csv = a.api.get(f"{V1}/reports/export", query_string={**args, "format": "csv"})
    assert csv.status_code == 200
    for path in ("/reports", "/reports/body"):
        assert web.get(path, query_string=args).status_code == 200, path


def check_sla_form(a: Accounts, web) -> None:
    """The SLA policy form offers only the organizations the agent may see."""
    from helpdesk.sla import policies
    from helpdesk.sla.models import SlaPolicy

    if a.role == "agent":
        assert web.get("/settings/sla/new").status_code == 404
        return
    policy_id = db.session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == "walk"))
    if policy_id is None:  # the check runs once per route it covers
        policy_id = policies.create({"name": "walk", "resolution_minutes": 60}, None).id
        db.session.commit()
    for path in ("/settings/sla/new", f"/settings/sla/{policy_id}"):
        page = web.get(path).get_data(as_text=True)
        assert "Mine GmbH" in page and "Other AG" not in page, path


def check_notifications(a: Accounts, web) -> None:
    from helpdesk.notifications.models import Notification

    def annas() -> list[tuple[str, int | None]]:
        db.session.rollback()
        rows = db.session.execute(
            select(Notification)
            .where(Notification.agent_id == a.anna.id)
            .order_by(Notification.id)  # PostgreSQL returns an updated row last otherwise
        )
        return [(n.kind, n.ticket_id) for n in rows.scalars()]

    # (Walked once per route: start from none.)
    db.session.query(Notification).filter_by(agent_id=a.anna.id).delete()
    db.session.commit()
    # Sam mentions the account manager on Olga's ticket: nobody is told.
    before = annas()
    note = {"body": "@anna.konto have a look", "internal": True}
    assert a.sam_api.post(f"{V1}/tickets/{a.olga_ticket}/messages", json=note).status_code == 201
    assert annas() == before
    # Told back when Olga was theirs (as for the assignment): hidden now, and left unread.
    for ticket in (a.mia_ticket, a.olga_ticket):
        db.session.add(Notification(agent_id=a.anna.id, kind="mention", ticket_id=ticket))
    db.session.commit()
    listed = a.api.get(f"{V1}/notifications", query_string={"unread": 1}).json
    assert [n["ticket"]["id"] for n in listed["items"]] == [a.mia_ticket]
    assert listed["unread"] == 1
    every = all_items(a.api, f"{V1}/notifications")
    assert a.olga_ticket not in {n["ticket"]["id"] for n in every}
    marked = a.api.post(f"{V1}/notifications/read", json={"all": True}).json
    assert marked == {"marked": 1, "unread": 0}
    assert annas() == [("mention", a.mia_ticket), ("mention", a.olga_ticket)]
    hidden = db.session.execute(
        select(Notification.read_at).where(Notification.ticket_id == a.olga_ticket)
    ).scalar_one()
    assert hidden is None


def check_compose(a: Accounts, web) -> None:
    """A new conversation only with their own customers; no forward of another's message."""
    assert web.get(f"/tickets/new?customer={a.olga.id}").status_code == 404
    assert "Mia Mine" in web.get(f"/tickets/new?customer={a.mia.id}").get_data(as_text=True)
    assert "Mia Mine" in web.get("/tickets/new?q=Mine").get_data(as_text=True)
    assert "Olga Other" not in web.get("/tickets/new?q=Olga").get_data(as_text=True)
    body = {"customer": a.olga.id, "channel": "email", "subject": "Hi", "body": "peeking"}
    refused = a.api.post(f"{V1}/conversations", json=body)
    assert refused.status_code == 422 and refused.json["error"]["fields"] == {
        "customer": "unknown id"
    }
    csrf = form_csrf(web, "/profile/signature")
    forward = web.post(
        f"/messages/{a.olga_message}/forward", data={"csrf_token": csrf, "to": "x@y.example"}
    )
    assert forward.status_code == 404


CHECKS = {  # reads first: the writes after them add customers, tickets and calls
    "customer_list_api.list_customers": check_customer_list,
    "customer_list.customers": check_customer_page,
    "customer_list_api.export_customers": check_export,
    "segments_api.list_segments": check_segments,
    "segments_api.get_segment": check_segments,
    "segments_api.segment_customers": check_segments,
    "segments_api.create_segment": check_segments,
    "segments_api.update_segment": check_segments,
    "segments_api.delete_segment": check_segments,
    "customer_list_api.bulk_action": check_customer_bulk,
    "customers_api.lookup": check_lookup,
    "organizations_api.list_organizations": check_organization_list,
    "organizations.organizations": check_organization_page,
    "tickets_api.list_tickets": check_ticket_list,
    "inbox.inbox": check_inbox,
    "inbox.rows": check_inbox_rows,
    "board.board": check_board,
    "board.rows": check_board,
    "duplicates_api.list_duplicates": check_duplicates,
    "duplicates.duplicates": check_duplicates,
    "duplicates_api.dismiss": check_dismiss,
    "audit_api.list_events": check_audit,
    "audit.audit_log": check_audit,
    "imports.import_page": check_imports,
    "reports.page": check_reports,
    "reports.body": check_reports,
    "reports_api.overview": check_reports,
    "reports_api.export_report": check_reports,
    "imports_api.create_import": check_imports,
    "imports_api.get_import": check_imports,
    "imports_api.import_report": check_imports,
    "imports_api.list_imports": check_imports,
    "imports_api.run_import": check_imports,
    "tickets_api.bulk_reassign": check_bulk,
    "customers_api.create_customer": check_create_customer,
    "organizations_api.create_organization": check_create_organization,
    "tickets_api.create_ticket": check_create_ticket,
    "cti_api.cti_event": check_cti,
    "settings_sla.new_policy": check_sla_form,
    "settings_sla.edit_policy": check_sla_form,
    "notifications_api.list_notifications": check_notifications,
    "notifications_api.mark_read": check_notifications,
    "compose.new_ticket": check_compose,
    "compose.forward": check_compose,
    "compose_api.start_conversation": check_compose,
}


def test_the_timeline_card_and_export_of_their_own_customer_leave_nothing_else(accounts):
    a = accounts
    # Max's organization has another key person, Olga is not in it; Mia's card is hers.
    items = a.api.get(f"{V1}/customers/{a.mia.id}/timeline?per_page=200").json["items"]
    assert {i["type"] for i in items} >= {"ticket", "message", "order", "call"}
    assert all(i.get("ticket", {}).get("id") in (None, a.mia_ticket) for i in items)
    if a.role != "agent":
        export = a.api.get(f"{V1}/customers/{a.mia.id}/export").json
        assert [t["id"] for t in export["tickets"]] == [a.mia_ticket]
        assert [o["number"] for o in export["orders"]] == ["M-1"]


def test_the_agents_api_shows_the_flag(api, accounts):
    a = accounts
    me = a.api.get(f"{V1}/me").json
    assert me["id"] == a.anna.id and me["own_accounts_only"] is True
    listed = {x["email"]: x for x in all_items(api, f"{V1}/agents")}
    assert listed["anna.konto@example.com"]["own_accounts_only"] is True
    assert listed["sam@example.com"]["own_accounts_only"] is False
    assert listed["sam@example.com"]["teams"][0]["name"] == "Support"


def test_admins_set_the_flag(api, api_as, make_agent, make_customer, make_ticket):
    sam = make_agent("sam@example.com", teams=["Support"])
    olga = make_customer("Olga Other", emails=["olga@other.example"])
    ticket = make_ticket(olga, "Olgas matter")
    sams = api_as(sam)
    assert sams.get(f"{V1}/tickets/{ticket}").status_code == 200
    refused = sams.patch(f"{V1}/agents/{sam.id}", json={"own_accounts_only": True})
    assert refused.status_code == 403
    changed = api.patch(f"{V1}/agents/{sam.id}", json={"own_accounts_only": True})
    assert changed.status_code == 200 and changed.json["own_accounts_only"] is True
    assert sams.get(f"{V1}/tickets/{ticket}").status_code == 404  # at once, same token
    assert sams.get(f"{V1}/customers/{olga.id}").status_code == 404
    assert api.patch(f"{V1}/agents/{sam.id}", json={"own_accounts_only": None}).status_code == 422
    made = api.post(
        f"{V1}/agents",
        json={"email": "kai@example.com", "name": "Kai", "own_accounts_only": True},
    )
    assert made.status_code == 201, made.json
    assert made.json["own_accounts_only"] is True and made.json["password"]
    assert (
        api.post(f"{V1}/agents", json={"email": "kai@example.com", "name": "K"}).status_code == 422
    )
    me = api.get(f"{V1}/me").json["id"]
    assert api.patch(f"{V1}/agents/{me}", json={"own_accounts_only": True}).status_code == 403
    assert api.patch(f"{V1}/agents/{me}", json={"name": "Boss"}).json["name"] == "Boss"
    bad = api.post(f"{V1}/agents", json={"email": "x@example.com", "name": "X", "teams": [MISSING]})
    assert bad.status_code == 422 and "teams" in bad.json["error"]["fields"]


def test_an_account_manager_is_never_handed_another_account(api, accounts):
    a = accounts
    assert api.patch(f"{V1}/tickets/{a.olga_ticket}", json={"assignee": None}).status_code == 200
    refused = api.patch(f"{V1}/tickets/{a.olga_ticket}", json={"assignee": a.anna.id})
    assert refused.status_code == 422 and "assignee" in refused.json["error"]["fields"]
    given = api.patch(f"{V1}/tickets/{a.max_ticket}", json={"assignee": a.anna.id})
    assert given.status_code == 200 and given.json["assignee"]["id"] == a.anna.id
    refused = api.post(
        f"{V1}/tickets", json={"customer": a.olga.id, "subject": "x", "assignee": a.anna.id}
    )
    assert refused.status_code == 422 and "assignee" in refused.json["error"]["fields"]


def test_the_customer_page_of_their_own_customer_names_only_their_people(accounts, client):
    a = accounts
    web = login(client, a.anna.email)
    page = web.get(f"/customers/{a.mia.id}").get_data(as_text=True)
    assert "Mia Mine" in page and "Olga" not in page
    page = web.get(f"/organizations/{a.mine_org}").get_data(as_text=True)
    assert "Max Mine" in page and "Olga" not in page


def test_an_account_managers_lists_take_a_fixed_number_of_queries(
    accounts, api, make_customer, make_ticket, count_queries, client
):
    """The rule is SQL inside each list's one query: more of their customers and tickets
    cost no more statements."""
    a = accounts
    web = login(client.application.test_client(), a.anna.email)
    paths = [
        f"{V1}/customers",
        f"{V1}/tickets",
        f"{V1}/organizations",
        f"{V1}/customers/{a.mia.id}/timeline",
        "/inbox?view=all",
        f"/customers/{a.mia.id}/panel",
    ]

    def statements() -> list[int]:
        found = []
        for path in paths:
            caller = a.api if path.startswith(V1) else web
            with count_queries() as seen:
                assert caller.get(path).status_code == 200, path
            found.append(sum(1 for sql in seen if sql.lstrip().upper().startswith("SELECT")))
        return found

    statements()  # warm: the token's first use records it
    before = statements()
    for n in range(8):
        customer = make_customer(f"Kunde {n}", organization_id=a.mine_org)
        make_ticket(customer, f"Frage {n}", body="hallo")
        make_ticket(a.mia, f"Mia again {n}", body="noch mal")
    after = statements()
    # (one more at most: a select-in load that runs only once some row has what it loads;
    # a query per row would be 8 or 16 more)
    assert all(n <= m + 1 for n, m in zip(after, before, strict=True)), (paths, before, after)
