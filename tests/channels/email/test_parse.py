"""Reading mail as it really arrives: encodings, charsets, parts, machines, quotes."""

from __future__ import annotations

import base64
import json
import time

import pytest

from helpdesk.channels.email.headers import decode_bytes
from helpdesk.channels.email.parse import UnparseableMail, parse
from helpdesk.channels.email.quotes import split_reply
from tests.fixtures.corpora import corpus
from tests.fixtures.email import make_mail


def _raw(headers: str, body: bytes) -> bytes:
    """A mail from header lines and body bytes."""
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_headers_rfc2047_names_subjects_and_thread_ids():
    mail = parse(
        _raw(
            "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.COM>\n"
            "To: support@example.com, Other <other@example.com>\nCc: c@example.com\n"
            "Subject: =?iso-8859-1?q?Bestellung_f=FCr?= =?utf-8?b?w7xiZXJtb3JnZW4=?= [#42]\n"
            "Date: Tue, 3 Mar 2026 09:15:00 +0100\nMessage-ID: <abc@x.example>\n"
            "In-Reply-To: <parent@x.example>\n"
            "References: <root@x.example>\n <parent@x.example>\n",
            b"Hallo\r\n",
        )
    )
    assert (mail.sender_name, mail.sender) == ("Jürgen Müller", "Juergen@Example.COM")
    assert mail.subject == "Bestellung fürübermorgen [#42]" and mail.ticket_number == 42
    assert mail.to == ["support@example.com", "other@example.com"] and mail.cc == ["c@example.com"]
    assert mail.message_id == "<abc@x.example>" and mail.date.utcoffset().seconds == 3600
    assert mail.in_reply_to == ["<parent@x.example>"]
    assert mail.references == ["<root@x.example>", "<parent@x.example>"]
    assert mail.auto is None and mail.bounce is None


@pytest.mark.parametrize(
    "declared, body, expected",
    [
        ("iso-8859-1", "Grüße aus Köln".encode(), "Grüße aus Köln"),  # wrong label
        (None, "Grüße aus Köln".encode(), "Grüße aus Köln"),  # no label, 8-bit
        ("utf-8", "Grüße aus Köln".encode("cp1252"), "Grüße aus Köln"),  # label lies the other way
        ("x-made-up", "Grüße".encode(), "Grüße"),  # unknown charset
        ("ks_c_5601-1987", "안녕하세요".encode("cp949"), "안녕하세요"),
        ("shift_jis", "こんにちは".encode("cp932"), "こんにちは"),
        ("iso-2022-jp", "こんにちは".encode("iso2022_jp"), "こんにちは"),
    ],
)
def test_text_in_any_charset_is_readable(declared, body, expected):
    charset = f"; charset={declared}" if declared else ""
    mail = parse(
        _raw(
            f"From: a@example.com\nSubject: x\nContent-Type: text/plain{charset}\n"
            "Content-Transfer-Encoding: 8bit\n",
            body + b"\r\n",
        )
    )
    assert mail.text == expected


def test_undecodable_bytes_still_give_text():
    assert "caf" in decode_bytes(b"caf\xe9 \x81\x8d\xff\xfe", "utf-8")


def test_attachments_inline_images_and_html():
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    raw = make_mail(
        text="See the photo.",
        html='<p>See <img src="cid:photo1"></p>',
        attachments=[("report.pdf", "application/pdf", b"%PDF-1.4 data")],
    )
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    html_part = msg.get_body(("html",))
    html_part.add_related(png, maintype="image", subtype="png", cid="<photo1>")
    mail = parse(msg.as_bytes())
    assert mail.text.strip() == "See the photo." and 'src="cid:photo1"' in mail.html
    by_name = {a.filename: a for a in mail.attachments}
    assert by_name["report.pdf"].content == b"%PDF-1.4 data"
    [image] = [a for a in mail.attachments if a.content_id == "photo1"]
    assert image.content == png and image.content_type == "image/png"


def test_forwarded_mail_is_read_and_kept():
    inner = make_mail(
        sender="boss@example.org", name="Boss", subject="Broken order", text="The order never came."
    )
    from email.message import EmailMessage

    outer = EmailMessage()
    outer["From"] = "ada@example.com"
    outer["Subject"] = "Fwd: Broken order"
    outer["Message-ID"] = "<fwd@example.com>"
    outer.set_content("Please look at this.")
    from email import message_from_bytes, policy

    outer.add_attachment(message_from_bytes(inner, policy=policy.default))
    mail = parse(outer.as_bytes())
    assert mail.forwarded[0]["from"] == "boss@example.org"
    assert "Please look at this." in mail.text and "The order never came." in mail.text
    assert mail.attachments[0].content_type == "message/rfc822"
    assert b"The order never came." in mail.attachments[0].content


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "X-Autoreply: yes",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "X-Auto-Response-Suppress: All",
        "Return-Path: <>",
    ],
)
def test_machine_mail_is_recognised(header):
    assert parse(_raw(f"From: a@example.com\n{header}\nSubject: x\n", b"away\r\n")).auto


def test_people_are_not_machines():
    assert (
        parse(
            _raw(
                "From: a@example.com\nAuto-Submitted: no\nPrecedence: first-class\nSubject: x\n",
                b"hi\r\n",
            )
        ).auto
        is None
    )


def test_unreadable_input_raises_the_parsers_own_error():
    from helpdesk.channels.email.parse import UnparseableMail

    for raw in (b"", b"   \r\n", b"\r\n\r\njust a body"):
        with pytest.raises(UnparseableMail):
            parse(raw)


def test_talon_replies_separate_the_reply_from_the_quote():
    folder = corpus("talon-replies", "standard_replies")
    files = sorted(folder.glob("*.eml"))
    assert files
    for path in files:
        wanted = folder / f"{path.stem}_reply_text"
        expected = wanted.read_text().strip() if wanted.exists() else "Hello"
        mail = parse(path.read_bytes())
        assert split_reply(mail.text) == expected, path.name
        assert mail.reply_text == expected or mail.text.strip() == expected


def test_talon_html_replies_lose_their_quote():
    from helpdesk.tickets.html import html_to_text

    folder = corpus("talon-replies", "html_replies")
    for path in sorted(folder.glob("*.html")):
        text = html_to_text(path.read_text(errors="replace"))
        reply = split_reply(text)
        assert reply and len(reply) < len(text), path.name


# github/email_reply_parser strips "Sent from my <device>" lines as signatures; talon
# (above) keeps them as part of the reply, and so do we: a signature is not quoted history.
_MOBILE = (
    "Sent from my iPhone",
    "Sent from my BlackBerry",
    "Sent from my Verizon Wireless BlackBerry",
)


def test_github_reply_parser_bodies():
    folder = corpus("github-email-reply-parser")
    expectations = json.loads((folder / "expectations.json").read_text())
    for name, expected in expectations["parse_reply_exact"].items():
        reply = split_reply((folder / name).read_text(errors="replace"))
        for line in _MOBILE:
            reply = reply.removesuffix(line).strip()
        assert reply == expected.strip(), name
    greedy = split_reply((folder / "greedy_on.txt").read_text())
    assert greedy.startswith("On your remote host") and "On 9 Jan 2014" not in greedy
    for name in ("pathological.txt", "email_long_quote.txt"):
        started = time.perf_counter()
        split_reply((folder / name).read_text(errors="replace"))
        assert time.perf_counter() - started < 1.0, name
    long_quote = split_reply((folder / "email_long_quote.txt").read_text(errors="replace"))
    assert long_quote.startswith("Hi folks")


def test_a_file_that_is_not_a_mail_is_kept_as_text_for_a_person(app):
    from helpdesk.channels.email.inbound import Mailbox, receive
    from helpdesk.channels.email.mailboxes import add_mailbox
    from helpdesk.extensions import db
    from helpdesk.tickets.models import Message

    channel = add_mailbox(
        "Support", "imap://u:p@127.0.0.1:1/INBOX", "smtp://127.0.0.1:1", "support@example.com"
    )
    db.session.commit()
    with pytest.raises(UnparseableMail):
        parse(b'{"order": 12345, "status": "late"}\n')
    receipt = receive(Mailbox.of(channel), b'{"order": 12345, "status": "late"}\n')
    message = db.session.get(Message, receipt.message_id)
    assert message.needs_review and '"order": 12345' in message.body_text


def test_8bit_text_without_nul_bytes_is_never_read_as_utf16():
    # (Dovecot stores a NUL byte as 0x80; a detector took "body\x80x" for UTF-16.)
    assert decode_bytes(b"body\x80x").startswith("body")
