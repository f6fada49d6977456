"""The markers stay true: a test that uses a live server, a browser or Dovecot is marked
``slow`` (``make test-fast`` leaves those out), and one that uses the real Redis is marked
``redis``. Checked over the tests of this run, whatever selected them."""

SLOW_FIXTURES = {"live_server", "chromium", "dovecot"}


def test_tests_that_use_servers_or_redis_are_marked(request):
    unmarked = []
    for item in request.session.items:
        fixtures = set(getattr(item, "fixturenames", ()))
        marks = {mark.name for mark in item.iter_markers()}
        if fixtures & SLOW_FIXTURES and "slow" not in marks:
            unmarked.append(f"{item.nodeid}: uses {sorted(fixtures & SLOW_FIXTURES)}, not slow")
        if "redis_url" in fixtures and "redis" not in marks:
            unmarked.append(f"{item.nodeid}: uses redis_url, not marked redis")
    assert unmarked == [], "\n".join(unmarked)
