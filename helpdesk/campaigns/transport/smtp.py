"""A batch of campaign mails on a pool of SMTP connections, one mail on each: staged up
to the final dot (MAIL, RCPT, DATA in lockstep over the connections, or pipelined behind
the last batch's dots where the server offers PIPELINING, RFC 2920), and the dots written
once the caller has committed the batch as sent (``campaigns/recipients.py`` says why)."""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass

_LEADING_DOT = re.compile(rb"(?m)^\.")


class Staged:
    """One mail written to its connection up to the final dot."""

    def __init__(self, row_id: int, connection: smtplib.SMTP, msgid: str) -> None:
        self.row_id, self.connection, self.msgid = row_id, connection, msgid


@dataclass
class Item:
    """One recipient's mail in a batch, and what went wrong with it, if anything."""

    slot: int
    row_id: int
    customer_id: int | None
    address: str
    attempts: int
    msgid: str = ""
    raw: bytes = b""
    trouble: Exception | None = None
    ready: bool = False  # DATA answered 354: the text may follow


def finish(
    staged: list[Staged], pool: list[smtplib.SMTP | None], items: list[Item], sender: str
) -> list[tuple[int, str]]:
    """Write the committed batch's final dots (the caller calls this right after its
    commit: nothing in between) and read their answers; on a connection that offers
    PIPELINING the next batch's MAIL, RCPT and DATA for ``items`` go in the same write
    (one round trip a batch, RFC 2920), and those items are ``ready`` when DATA got its
    354 (``stage`` does the others). Returns the dots the server refused."""
    on = {id(s.connection): s for s in staged}
    pipelined = [
        i
        for i in items
        if i.trouble is None and id(pool[i.slot]) in on and _pipelines(pool[i.slot])
    ]
    ahead = {id(pool[i.slot]): i for i in pipelined}
    for item in staged:
        commands = b".\r\n"
        follow = ahead.get(id(item.connection))
        if follow is not None:
            commands += f"MAIL FROM:<{sender}>\r\nRCPT TO:<{follow.address}>\r\nDATA\r\n".encode()
        try:
            item.connection.send(commands)
        except OSError as exc:  # the mail stays recorded as sent: at most once
            if follow is not None:
                follow.trouble = exc
    refused = []
    for item in staged:
        try:
            code, answer = item.connection.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            code, answer = 0, str(exc).encode()
        if code != 250:
            if code >= 500:
                refused.append((item.row_id, f"{code} {answer.decode('utf-8', 'replace')}"[:500]))
            if code == 0:
                follow = ahead.pop(id(item.connection), None)
                if follow is not None and follow.trouble is None:
                    follow.trouble = smtplib.SMTPServerDisconnected("no answer to the final dot")
                if item.connection in pool:
                    pool[pool.index(item.connection)] = None
    if pipelined:
        _replies([i for i in pipelined if i.trouble is None], pool)
    return refused


def _pipelines(connection: smtplib.SMTP | None) -> bool:
    """Whether the server offered PIPELINING (RFC 2920) on this connection."""
    return connection is not None and bool(connection.has_extn("pipelining"))


STEPS = (("mail", (250,)), ("rcpt", (250, 251)), ("data", (354,)))


def _replies(items: list[Item], pool: list[smtplib.SMTP | None]) -> None:
    """Read the answers to pipelined MAIL, RCPT and DATA (all three, whatever they say)."""
    for item in items:
        for _command, wanted in STEPS:
            try:
                code, answer = pool[item.slot].getreply()  # type: ignore[union-attr]
            except (smtplib.SMTPException, OSError) as exc:
                item.trouble = item.trouble or exc
                break
            if code not in wanted and item.trouble is None:
                item.trouble = smtplib.SMTPResponseException(code, answer)
        else:
            item.ready = item.trouble is None
            if item.trouble is not None and code == 354:
                drop(pool, item.slot)  # DATA taken after a refusal: never send it text
                item.trouble = smtplib.SMTPServerDisconnected("dropped after a refusal")


def stage(items: list[Item], pool: list[smtplib.SMTP | None], sender: str) -> None:
    """MAIL, RCPT and DATA for the items not ``ready`` yet, on every connection in
    lockstep: each command goes out on all of them before the answers are read, so a
    batch waits for three round trips, not three per mail."""
    items = [i for i in items if not i.ready and i.trouble is None]
    arguments = {
        "mail": lambda item: f"FROM:<{sender}>",
        "rcpt": lambda item: f"TO:<{item.address}>",
        "data": lambda item: "",
    }
    for command, wanted in STEPS:
        for item in items:
            if item.trouble is None:
                try:
                    pool[item.slot].putcmd(command, arguments[command](item))  # type: ignore[union-attr]
                except (smtplib.SMTPException, OSError) as exc:
                    item.trouble = exc
        for item in items:
            if item.trouble is None:
                try:
                    code, answer = pool[item.slot].getreply()  # type: ignore[union-attr]
                except (smtplib.SMTPException, OSError) as exc:
                    item.trouble = exc
                    continue
                if code not in wanted:
                    item.trouble = smtplib.SMTPResponseException(code, answer)
    for item in items:
        item.ready = item.trouble is None


def send_text(items: list[Item], pool: list[smtplib.SMTP | None]) -> None:
    """Each ready mail's text after its 354, without the final dot."""
    for item in items:
        if not item.ready or item.trouble is not None:
            continue
        data = _LEADING_DOT.sub(b"..", item.raw)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        try:
            pool[item.slot].send(data)  # type: ignore[union-attr]
        except (smtplib.SMTPException, OSError) as exc:
            item.trouble = exc


def drop(pool: list[smtplib.SMTP | None], slot: int) -> None:
    """Close a connection at once, without QUIT (inside DATA the server would take QUIT
    for text and wait): a mail it was carrying is discarded by the server."""
    connection, pool[slot] = pool[slot], None
    if connection is not None:
        connection.close()


def reset(connection: smtplib.SMTP | None) -> smtplib.SMTP | None:
    """After a refusal the connection is kept for the next mail (RSET), else dropped."""
    if connection is None:
        return None
    try:
        connection.rset()
        return connection
    except (smtplib.SMTPException, OSError):
        return None


def why(exc: smtplib.SMTPResponseException) -> str:
    """An SMTP refusal as the recipient's error."""
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"[:500]
