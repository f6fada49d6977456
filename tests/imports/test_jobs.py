"""With REDIS_URL: an import runs as an RQ job in a worker process, which notes its
progress in the imports table as it goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, select

from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.imports import services
from tests.fixtures.app import run_worker

pytestmark = pytest.mark.redis  # the real Redis

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def app_config(redis_url):
    """Every test here runs with REDIS_URL set."""
    return {"REDIS_URL": redis_url}


@pytest.mark.slow
def test_a_worker_runs_the_dry_run_and_the_import(app, api, redis_url, base_config):
    from redis import Redis

    people = [f"Person {n},p{n}@example.com" for n in range(1, 121)]
    content = "\r\n".join(["name,email", *people, "Bad,bad(at)example.com"])
    created = api.post("/api/v1/imports", json={"filename": "many.csv", "content": content})
    assert created.status_code == 201, created.json
    item = created.json
    assert (item["status"], item["progress"], item["total"]) == ("checking", 0, 121)
    queue = Queue("default", connection=Redis.from_url(redis_url))
    job = queue.jobs[0]
    assert job.func_name == "helpdesk.imports.services.run" and job.args == (item["id"],)
    assert job.timeout == 4 * 3600

    done = run_worker(app, base_config, redis_url)
    assert done.returncode == 0, done.stderr[-2000:]
    checked = api.get(f"/api/v1/imports/{item['id']}").json
    assert (checked["status"], checked["progress"]) == ("checked", 100)
    assert checked["counts"] == {"created": 120, "updated": 0, "merged": 0, "refused": 1}

    started = api.post(f"/api/v1/imports/{item['id']}/run", json={"dry_run": False}).json
    assert (started["status"], started["progress"]) == ("queued", 0)
    twice = api.post(f"/api/v1/imports/{item['id']}/run", json={"dry_run": False})
    assert twice.status_code == 409 and len(queue.jobs) == 1
    # A job delivered twice (a retry, a requeue): the second finds the run taken.
    queue.enqueue(services.run, item["id"])
    done = run_worker(app, base_config, redis_url)
    assert done.returncode == 0, done.stderr[-2000:]
    db.session.rollback()
    finished = api.get(f"/api/v1/imports/{item['id']}").json
    assert (finished["status"], finished["progress"], finished["processed"]) == ("done", 100, 121)
    report = api.get(f"/api/v1/imports/{item['id']}/report").get_data(as_text=True)
    assert report.count("\r\n") == 122 and "122,refused,,email" in report
    assert report.count(",created,") == 120  # not run twice: no row merged
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 120
