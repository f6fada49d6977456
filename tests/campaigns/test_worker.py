"""A worker killed in the middle of a 500-recipient campaign: another one (two senders
on its queue) finishes it, and every consenting recipient has exactly one mail."""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import pytest

from helpdesk.campaigns import recovery
from helpdesk.campaigns.models import Campaign
from helpdesk.extensions import db
from tests.campaigns.helpers import bulk_customers, mailbox_on, mails
from tests.fixtures.app import run_worker, worker_process

V1 = "/api/v1"
WORKER_ENV = {
    "HELPDESK_CAMPAIGN_EMAIL_RATE": "0",
    "HELPDESK_CAMPAIGN_LEASE_SECONDS": "1",
}


@pytest.fixture
def redis_url(own_redis):
    """A Redis server of this test's own (the shared one has 16 databases, all taken)."""
    return own_redis.url


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "CAMPAIGN_EMAIL_RATE": 0, "CAMPAIGN_LEASE_SECONDS": 1}


def start_worker(app, base_config, redis_url) -> subprocess.Popen:
    """``helpdesk worker`` in a process of its own, as ``run_worker`` starts it."""
    return worker_process(app, base_config, redis_url, stdout=subprocess.DEVNULL, **WORKER_ENV)


@pytest.mark.slow
@pytest.mark.redis
def test_a_worker_killed_mid_campaign_leaves_every_recipient_exactly_one_mail(
    api, app, base_config, redis_url, smtp_server
):
    segment = api.post(f"{V1}/segments", json={"name": "All", "filter": {}, "shared": True}).json
    mailbox_on(smtp_server)
    smtp_server.handler_obj.pipelining = True  # each dot shares its write with the next mail
    bulk_customers(500, consenting=lambda n: n % 10 != 0)  # 450 consenting
    made = api.post(
        f"{V1}/campaigns",
        json={
            "name": "Recall",
            "segment": segment["id"],
            "subject": "Recall",
            "body": "Dear {customer_name}, please return the kettle.",
        },
    ).json
    assert api.post(f"{V1}/campaigns/{made['id']}/send").status_code == 202
    received = smtp_server.handler_obj.received
    t0 = time.monotonic()
    marks = []
    first = start_worker(app, base_config, redis_url)
    deadline = time.monotonic() + 90
    while len(received) < 100 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if first.poll() is not None:
        pytest.fail(f"the worker ended before the kill: {first.communicate()[1][-3000:]}")
    marks.append(("kill", time.monotonic() - t0))
    first.kill()
    first.communicate()
    assert 100 <= len(received) < 450, "killed in the middle"
    time.sleep(1.1)  # the lease (1 s) of its claims runs out
    recovery.resume()  # what the scheduler runs every 30 s: new senders for a dead one
    second = run_worker(app, base_config, redis_url, **WORKER_ENV)
    marks.append(("done", time.monotonic() - t0))
    assert second.returncode == 0, second.stderr[-3000:]
    per_address = Counter(m["To"].addresses[0].addr_spec for m in mails(smtp_server))
    wanted = {f"c{n}@example.com" for n in range(500) if n % 10 != 0}
    assert set(per_address) == wanted
    assert set(per_address.values()) == {1}, [a for a, n in per_address.items() if n > 1]
    db.session.expire_all()
    campaign = api.get(f"{V1}/campaigns/{made['id']}").json
    assert campaign["status"] == "sent" and campaign["counts"]["sent"] == 450
    assert db.session.get(Campaign, made["id"]).finished_at is not None
