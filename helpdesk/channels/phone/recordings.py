"""Recordings of answered calls, kept in the call's ticket as audio attachments.

The provider announces a finished recording (Twilio: the <Dial>'s
``recordingStatusCallback``); ``received`` keeps its address in the call (``meta
["recordings"]``, by the provider's recording id, so a retried callback changes
nothing) and hands the download to a job. ``fetch`` downloads it server-side with the
account's credentials and files it as a message of the call's customer with the
recording attached; agents play it through the access-checked ``/attachments/ID``:
their browser never sees the provider's address or credentials. A download that fails
is tried again (RQ's retries); after the last one the message is filed all the same,
flagged for review, its attachment still pointing at the recording, and the media
job tries once more.
"""

from __future__ import annotations

import logging

import requests

from helpdesk import jobs, unit_of_work
from helpdesk.channels.inbound import InboundAttachment, InboundMessage
from helpdesk.channels.twilio.common import download, media_allowed
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Call

log = logging.getLogger(__name__)
FETCH_JOB = "helpdesk.channels.phone.recordings:fetch"
RETRIES = 3  # after 10 s, 1 min and 5 min (jobs.submit)


def received(call: Call, url: str, recording_id: str | None, seconds: int | None) -> bool:
    """Keep a finished recording of ``call`` and fetch it after the commit; False when
    it is known already (the provider retried) or has no address."""
    url = (url or "").strip()[:1000]
    key = (recording_id or url).strip()[:64]
    kept = dict((call.meta or {}).get("recordings") or {})
    if not url or key in kept:
        return False
    kept[key] = {"url": url, "seconds": seconds}
    call.meta = {**(call.meta or {}), "recordings": kept}
    db.session.flush()
    jobs.enqueue(FETCH_JOB, call.id, retries=RETRIES)
    return True


def _audio_url(url: str) -> str:
    """Twilio answers a recording's address with ``.mp3`` appended as MP3 audio."""
    return url if url.rsplit("/", 1)[-1].count(".") else url + ".mp3"


def _entry(call: Call, key: str, recording: dict, attachment: InboundAttachment, problem: str):
    """The message that files one recording in the customer's history."""
    number = call.from_number if call.direction == "in" else call.to_number
    customer = db.session.get(Customer, call.customer_id) if call.customer_id else None
    who = (customer.name if customer is not None else None) or number or "an unknown caller"
    seconds = recording.get("seconds")
    return InboundMessage(
        channel="voice",
        sender_kind="phone",
        sender=number or "",
        subject=f"Recording of the phone call with {who}",
        text=f"Recording of the phone call {'from' if call.direction == 'in' else 'to'} "
        f"{number or 'an unknown number'}" + (f" ({seconds} s)." if seconds is not None else "."),
        external_id=f"{call.provider}:{call.provider_id}:recording:{key}",
        references=[f"{call.provider}:{call.provider_id}"],  # the call's own entry
        ticket_number=call.ticket_id,
        channel_id=(call.meta or {}).get("channel_id"),
        received_at=call.answered_at or call.started_at,
        meta={"call_id": call.id, "call": "recording"},
        attachments=[attachment],
        review_reason=problem or None,
    )


def fetch(call_id: int) -> None:
    """Job: download the call's recordings not filed yet and file each as a message."""
    call = db.session.get(Call, call_id)
    if call is None:
        return
    pending = {
        key: dict(rec)
        for key, rec in ((call.meta or {}).get("recordings") or {}).items()
        if not rec.get("message_id")
    }
    db.session.rollback()  # no transaction (nor SQLite lock) held while downloading
    failed = []
    for key, recording in pending.items():
        url, problem = _audio_url(recording["url"]), ""
        attachment = InboundAttachment("call-recording.mp3", "audio/mpeg", source_url=url)
        try:
            if not media_allowed(url):
                raise ValueError(f"{url[:200]} is not a Twilio address")
            attachment.content, _type = download(url)
            attachment.source_url = None
        except (requests.RequestException, ValueError) as exc:
            problem = f"recording not fetched from {url[:200]}: {str(exc)[:200]}"
            if jobs.retries_left() > 0:
                failed.append(problem)
                continue  # kept in the call; the next try fetches it
        _file(call_id, key, recording, attachment, problem)
    if failed:
        raise RuntimeError("; ".join(failed))  # RQ runs the job again


def _file(
    call_id: int, key: str, recording: dict, attachment: InboundAttachment, problem: str
) -> None:
    """File one recording (downloaded, or only its address with ``problem``) as a
    message on the call's ticket; remember it in the call."""
    call = db.session.get(Call, call_id)
    assert call is not None  # read at the start of the job; calls are not deleted
    entry = _entry(call, key, recording, attachment, problem)
    db.session.commit()  # reads only; ingest takes its own write transaction
    result = ingest(entry)
    with unit_of_work.writing():
        call = db.session.get(Call, call_id)
        assert call is not None
        kept = dict(call.meta.get("recordings") or {})
        kept[key] = {**kept.get(key, recording), "message_id": result.message.id}
        call.meta = {**call.meta, "recordings": kept}
        call.ticket_id = call.ticket_id or result.ticket.id
        call.customer_id = call.customer_id or result.customer.id
        unit_of_work.commit()
    log.info("call %s: recording %s filed on ticket %s", call_id, key, result.ticket.id)
