"""Log lines as JSON with the request's id, in the request and in the jobs it enqueued
(run by the worker); the job queues and failures as /metrics reads them from Redis."""

from __future__ import annotations

import io
import json
import logging
import re
import signal

import pytest

from helpdesk import jobs
from helpdesk.config import from_environment
from helpdesk.metrics import logs
from tests.fixtures.twilio import post_signed, sms_params, twilio_config
from tests.metrics.scrape import scrape, value
from workers.worker import AppWorker

pytestmark = pytest.mark.redis  # the real Redis
SMS = "/webhooks/twilio/sms"
FIELDS = {"time", "level", "logger", "message", "request_id"}


@pytest.fixture
def app_config(twilio_api, redis_url):
    """SMS through the signed webhook; jobs through RQ."""
    return twilio_config(twilio_api, REDIS_URL=redis_url)


@pytest.fixture
def json_lines(caplog):
    """The root logger's records as the JSON handler writes them; returns a reader."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def failing_job() -> None:
    """A job that fails (the worker counts it)."""
    raise RuntimeError("this job fails on purpose")


def work_the_queues() -> None:
    """Run every queued job in this process, as ``helpdesk worker --burst`` does."""
    worker = AppWorker(
        [jobs.queue(name) for name in jobs.QUEUES], connection=jobs.redis_connection()
    )
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def test_json_lines_carry_the_request_id_into_the_jobs(app, web_app, client, json_lines):
    question = sms_params("Where is my order 12345?", sender="+4915199887766")
    # (web_app: the request in an app context of its own, as in production, which ends
    # with it, and the request's id with it)
    answer = post_signed(
        web_app.test_client(), SMS, question, environ_base={"HTTP_X_REQUEST_ID": "trace-7f3a"}
    )
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "trace-7f3a"
    queued = jobs.queue("default").get_jobs()
    assert queued and all(job.meta["request_id"] == "trace-7f3a" for job in queued)
    jobs.submit("tests.metrics.test_logs:failing_job")  # after the request: no id
    waiting = scrape(client)
    assert value(waiting, "helpdesk_job_queue_length", queue="default") == len(queued) + 1

    work_the_queues()

    lines = json_lines()
    assert lines and all(FIELDS <= line.keys() for line in lines)
    stored = [line for line in lines if line["logger"] == "helpdesk.tickets.ingest"]
    assert stored and stored[0]["request_id"] == "trace-7f3a"  # in the request
    done = [
        line for line in lines if line["logger"].startswith("rq.") and "Job OK" in line["message"]
    ]
    # the bot's answer, and the sending of it (a job the job enqueued) by the worker
    assert len(done) >= 2 and all(line["request_id"] == "trace-7f3a" for line in done)
    failed = [line for line in lines if "this job fails on purpose" in json.dumps(line)]
    assert failed and all(line["request_id"] is None for line in failed)
    assert all(line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"} for line in lines)

    after = scrape(client)
    assert value(after, "helpdesk_job_queue_length", queue="default") == 0
    assert value(after, "helpdesk_jobs_failed", queue="default") == 1
    assert value(after, "helpdesk_job_failures_total", queue="default") >= 1


def test_request_ids_are_taken_only_when_sane(client):
    for header in ("x" * 200, "two words", "<script>"):
        given = client.get("/healthz", headers={"X-Request-ID": header}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", given), header
    kept = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert client.get("/healthz", headers={"X-Request-ID": kept}).headers["X-Request-ID"] == kept


def test_the_log_format_setting(monkeypatch, tmp_path):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # as in a fresh process (the test runner's handlers set aside)
    try:
        logs.configure("json")
        (ours,) = root.handlers
        record = logging.LogRecord(
            "helpdesk.x", logging.WARNING, __file__, 1, "hi %s", ("you",), None
        )
        with logs.carrying("abc"):
            assert ours.filter(record)
        line = json.loads(ours.format(record))
        assert line["message"] == "hi you" and line["request_id"] == "abc"
        assert line["level"] == "WARNING" and line["logger"] == "helpdesk.x"
        logs.configure("text")  # a later app: the same handler, the other format
        assert root.handlers == [ours]
        assert ours.format(record).endswith("WARNING helpdesk.x: hi you")
    finally:
        root.handlers[:] = saved
    assert from_environment(tmp_path)["LOG_FORMAT"] == "text"
    monkeypatch.setenv("HELPDESK_LOG_FORMAT", "JSON")
    assert from_environment(tmp_path)["LOG_FORMAT"] == "json"
    monkeypatch.setenv("HELPDESK_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="HELPDESK_LOG_FORMAT"):
        from_environment(tmp_path)
