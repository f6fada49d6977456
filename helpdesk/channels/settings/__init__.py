"""The channel settings screens for admins: ``/settings/mailboxes``,
``/settings/phone-numbers`` and ``/settings/chat-widgets``. The views parse the forms and
call the same services as the CLI (``email.mailboxes``, ``twilio.numbers``,
``chat.widgets``); ``servers`` validates a form's server fields and tests a connection."""
