# The one image of web, worker and scheduler (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HELPDESK_INSTANCE=/app/instance

RUN useradd --create-home --uid 10001 helpdesk
WORKDIR /app

# Dependencies first, in a layer of their own, at the locked versions and hash-checked
# (scripts/lock.sh makes requirements/app.txt): a code change does not reinstall them.
COPY requirements/app.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt

# A plain install: templates, static files and migrations are package data, and the
# database, secret key and attachments live in HELPDESK_INSTANCE.
COPY pyproject.toml README.md /src/
COPY helpdesk /src/helpdesk
COPY workers /src/workers
RUN pip install --no-deps /src && rm -rf /src \
    && mkdir -p /app/instance \
    && chown helpdesk:helpdesk /app/instance

USER helpdesk
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"
# gunicorn (helpdesk/web/production.py): PORT and WEB_CONCURRENCY (processes) from the
# environment. It never migrates: run `helpdesk db upgrade` once first (compose's migrate).
ENV PORT=5000
STOPSIGNAL SIGTERM
CMD ["helpdesk", "serve", "--host", "0.0.0.0"]
