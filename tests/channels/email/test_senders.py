"""Who a mail is from and what it is about, from headers real mail programs (and
forgers) write: the address only from the raw header, X-Original-Sender only from a
list domain, 8-bit headers without a charset, UTF-7, odd folding and padding, no From,
display names that break the strict parse."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.channels.email.inbound import Mailbox, receive
from helpdesk.channels.email.parse import parse
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket


@pytest.fixture
def box(app):
    """A mailbox to receive on, with googlegroups.com as its list domain."""
    from helpdesk.channels.email.mailboxes import add_mailbox

    channel = add_mailbox(
        "Support",
        "imap://u:p@127.0.0.1:1/INBOX",
        "smtp://127.0.0.1:1",
        "support@example.com",
        list_domains=["googlegroups.com"],
    )
    db.session.commit()
    return Mailbox.of(channel)


def mail(headers: bytes, body: bytes = b"Hello") -> bytes:
    """A mail of these header lines (CRLF-separated) and a body."""
    return headers.rstrip(b"\r\n") + b"\r\nMessage-ID: <%d@test>\r\n\r\n" % id(headers) + body


SPOOF = b"From: =?utf-8?q?=0Avictim=40example=2Ecom?= <attacker@evil.example>\r\nSubject: Hi"


def test_an_encoded_word_is_a_display_name_never_the_address():
    parsed = parse(mail(SPOOF))
    assert parsed.sender == "attacker@evil.example"
    assert parsed.sender_name == "victim@example.com"
    alone = parse(mail(b"From: =?utf-8?q?victim=40example=2Ecom?=\r\nSubject: Hi"))
    assert alone.sender == ""  # no address written in the header: none taken from its text
    listed = parse(
        mail(b"To: =?utf-8?q?a=40victim=2Eexample?= <support@example.com>, b@example.org")
    )
    assert listed.to == ["support@example.com", "b@example.org"]


def test_a_spoofed_sender_does_not_join_the_victims_ticket(box, make_customer):
    victim = make_customer("Victim", emails=["victim@example.com"])
    receive(box, mail(b"From: victim@example.com\r\nSubject: Hi", b"my own ticket"))
    receipt = receive(box, mail(SPOOF, b"please send the invoice to me"))
    message = db.session.get(Message, receipt.message_id)
    ticket = db.session.get(Ticket, message.ticket_id)
    assert ticket.customer_id != victim.id and ticket.contact == "attacker@evil.example"
    victims = db.session.execute(select(Ticket).where(Ticket.customer_id == victim.id))
    assert [t.id for t in victims.scalars()] != [ticket.id]


def test_x_original_sender_only_from_a_configured_list_domain(box):
    group = parse(
        mail(
            b"From: Shop group <shop@googlegroups.com>\r\nX-Original-Sender: jane@example.com\r\n"
            b"Subject: Hi"
        ),
        list_domains=box.list_domains,
    )
    assert (group.sender, group.sender_name) == ("jane@example.com", "Shop group")
    forged = parse(
        mail(b"From: mallory@evil.example\r\nX-Original-Sender: jane@example.com\r\nSubject: x"),
        list_domains=box.list_domains,
    )
    assert forged.sender == "mallory@evil.example"
    unlisted = parse(
        mail(b"From: shop@googlegroups.com\r\nX-Original-Sender: jane@example.com\r\nSubject: x")
    )
    assert unlisted.sender == "shop@googlegroups.com"  # no list domains configured


@pytest.mark.parametrize(
    ("headers", "body", "name", "subject"),
    [
        (  # GBK, no charset anywhere
            "From: 张伟 <zhang@example.cn>\r\nSubject: 请问我的订单在哪里".encode("gbk"),
            b"ok",
            "张伟",
            "请问我的订单在哪里",
        ),
        (  # Big5, no charset anywhere
            "From: 陳大文 <chan@example.tw>\r\nSubject: 我的包裹在哪裡？".encode("big5"),
            b"ok",
            "陳大文",
            "我的包裹在哪裡？",
        ),
        (  # Big5 in the headers, the body's charset declared
            "From: 陳大文 <chan@example.tw>\r\nSubject: Re: 訂單查詢".encode("big5")
            + b"\r\nContent-Type: text/plain; charset=big5",
            "謝謝".encode("big5"),
            "陳大文",
            "Re: 訂單查詢",
        ),
        (  # Latin-1, no charset
            "From: René Müller <rene@example.de>\r\nSubject: Ärger mit der Größe".encode("latin-1"),
            b"ok",
            "René Müller",
            "Ärger mit der Größe",
        ),
    ],
)
def test_8bit_headers_without_a_charset(headers, body, name, subject):
    parsed = parse(mail(headers, body))
    assert (parsed.sender_name, parsed.subject) == (name, subject)


def test_utf7_subjects_folded_and_padded_subjects():
    assert parse(mail(b"From: a@example.com\r\nSubject: =?UTF-7?Q?Caf+AOk-?=")).subject == "Café"
    old_outlook = b"From: a@example.com\r\nSubject: =?unicode-1-1-utf-7?Q?+AFs-Re+AF0- Caf+AOk-?="
    assert parse(mail(old_outlook)).subject == "[Re] Café"
    bare = b"From: a@example.com\r\nSubject: Caf+AOk- +ZeVnLIqe-"  # UTF-7 without an encoded word
    assert parse(mail(bare)).subject == "Café 日本語"
    assert parse(mail(b"From: a@example.com\r\nSubject: C++ +49 30 1234-5")).subject == (
        "C++ +49 30 1234-5"
    )
    folded = b"From: a@example.com\r\nSubject:\r\n =?utf-8?B?QmVzdGVsbHVuZw==?=\r\n\tnummer 5"
    assert parse(mail(folded)).subject == "Bestellung nummer 5"
    padded = "From: a@example.com\r\nSubject: \u3000\u3000ご注文\u3000\u3000".encode()
    assert parse(mail(padded)).subject == "ご注文"
    encoded = b"From: a@example.com\r\nSubject: =?utf-8?B?44CA44CA44GU5rOo5paH44CA?="
    assert parse(mail(encoded)).subject == "ご注文"


def test_no_from_falls_back_to_reply_to_then_sender_then_the_envelope():
    both = parse(mail(b"Reply-To: Bob <bob@example.com>\r\nSender: s@example.com\r\nSubject: x"))
    assert (both.sender, both.sender_name) == ("bob@example.com", "Bob")
    assert parse(mail(b"Sender: s@example.com\r\nSubject: x")).sender == "s@example.com"
    envelope = parse(mail(b"Return-Path: <env@example.com>\r\nSubject: x"))
    assert envelope.sender == "env@example.com"
    unusable = parse(mail(b'From: "" (Mail Delivery System)\r\nReply-To: r@example.com'))
    assert unusable.sender == "r@example.com"


@pytest.mark.parametrize(
    ("header", "address", "name"),
    [
        (b'"john smith"@example.com', '"john smith"@example.com', None),
        (b"Ann <ann@example.com.>", "ann@example.com", "Ann"),
        (b"Ann <ann@example.com>>", "ann@example.com", "Ann"),
        (b"John Smith john@example.com", "john@example.com", "John Smith"),
        (b'"Smith, John" <john@example.com>', "john@example.com", "Smith, John"),
        (
            b"Support <support@shop.example>, Other <o@example.com>",
            "support@shop.example",
            "Support",
        ),
        (b"Bob (the builder) <bob@example.com> (work)", "bob@example.com", "Bob"),
        (b"<bob@example.com", "bob@example.com", None),
    ],
)
def test_display_names_that_break_the_strict_parse(header, address, name):
    parsed = parse(mail(b"From: " + header + b"\r\nSubject: x"))
    assert (parsed.sender, parsed.sender_name) == (address, name)
