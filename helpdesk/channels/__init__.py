"""Channels: one subpackage per way customers reach the company (email, twilio for SMS and
voice, phone for calls from any phone system, chat). Each turns what arrives into one
``channels.inbound.InboundMessage`` for ``tickets.ingest`` and sends replies through a
``base.ChannelAdapter``; ``delivery`` is the job that sends."""

from __future__ import annotations

from flask import Flask

FETCH_MEDIA = "helpdesk.channels.twilio.common:fetch_media"


def init_app(app: Flask) -> None:
    """Register the adapters, pages, webhooks, APIs, the chat namespace, the follow-ups of
    inbound messages and the commands of every channel."""
    from helpdesk import origins, realtime
    from helpdesk.channels import base
    from helpdesk.channels.chat import adapter as chat
    from helpdesk.channels.chat import cli as chat_cli
    from helpdesk.channels.chat import namespace, services, views
    from helpdesk.channels.email import adapter as email
    from helpdesk.channels.email import cli as email_cli
    from helpdesk.channels.phone import cti
    from helpdesk.channels.settings import mailboxes as mailbox_settings
    from helpdesk.channels.settings import numbers as number_settings
    from helpdesk.channels.settings import oauth as oauth_settings
    from helpdesk.channels.settings import pages as settings_pages
    from helpdesk.channels.settings import widgets as widget_settings
    from helpdesk.channels.twilio import cli as twilio_cli
    from helpdesk.channels.twilio import common, sms, softphone, softphone_api, webhooks
    from helpdesk.extensions import csrf
    from helpdesk.tickets import ingest
    from helpdesk.web.api import register_api

    for adapter in (email.EmailAdapter, sms.SmsAdapter, chat.ChatAdapter):
        base.register(adapter)
    # MMS media and voicemail recordings are fetched after the message is stored.
    ingest.register_follow_up(FETCH_MEDIA, "sms", common.media_pending)
    ingest.register_follow_up(FETCH_MEDIA, "voice", common.media_pending)
    realtime.on_presence_change(chat.presence_changed)
    namespace.register()
    origins.cors_origins_from(services.widget_origins)
    app.register_blueprint(views.bp)
    # The settings screens' routes are on settings_pages.bp (their modules add them).
    assert mailbox_settings and number_settings and widget_settings and oauth_settings
    app.register_blueprint(settings_pages.bp)
    register_api(app, cti.bp)
    register_api(app, softphone_api.bp)
    app.add_template_global(softphone.wanted, "softphone_wanted")
    csrf.exempt(webhooks.bp)  # Twilio proves itself with X-Twilio-Signature
    app.register_blueprint(webhooks.bp)
    for command in (*twilio_cli.COMMANDS, *email_cli.COMMANDS, *chat_cli.COMMANDS):
        app.cli.add_command(command)
