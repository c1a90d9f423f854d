# formbot worker: `formbot run` polling the mailbox, reminding and sending digests.
# Build and run it as README.md ("Running it in a container") says; compose.yaml beside it.
#   docker build -t formbot .          (or: podman build -t formbot .)
FROM debian:bookworm-slim

# One Python: Debian's python3 runs formbot and the warm converter's UNO bridge
# (python3-uno is built for /usr/bin/python3 only), so both share one interpreter and
# one set of system libraries. LibreOffice (no GUI) converts legacy .doc/.xls/.wps/.et;
# bsdtar (libarchive-tools) unpacks .rar; tini is PID 1; ca-certificates for IMAP/SMTP
# over TLS. No CJK fonts: conversion moves text between formats and never renders it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-uno libreoffice-writer-nogui libreoffice-calc-nogui \
      libarchive-tools tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# The venv sees Debian's site-packages (uno) and keeps formbot's own libraries apart.
RUN python3 -m venv --system-site-packages /opt/formbot
ENV PATH=/opt/formbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, so a source change does not download them again.
WORKDIR /src
COPY pyproject.toml README.md ./
# A build behind a TLS-intercepting proxy names its CA bundle (README: Running it in a
# container); pip and its build subprocesses read PIP_CERT. Normally empty.
ARG PIP_CERT_FILE=
# psycopg too, so compose.yaml's PostgreSQL option needs no other image.
RUN if [ -n "$PIP_CERT_FILE" ]; then export PIP_CERT="$PIP_CERT_FILE"; fi \
 && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["postgres"]))' >/tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt "setuptools>=68" wheel \
 && rm /tmp/requirements.txt
COPY formbot ./formbot
COPY ingest ./ingest
COPY parsers ./parsers
COPY store ./store
COPY notifier ./notifier
COPY errors.py ./
# Built without isolation from the setuptools above: no second download.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && rm -rf /src/build /src/*.egg-info

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin formbot \
 && mkdir -p /data /config \
 && chown formbot:formbot /data

USER formbot
# The working directory is the data volume: relative paths (demo-export.xlsx, exports,
# backups) land somewhere writable and kept.
WORKDIR /data
ENV HOME=/home/formbot \
    FORMBOT_CONFIG=/config/config.yaml
# The mounted config.yaml says  database: sqlite:////data/formbot.db  and  data_dir: /data
VOLUME ["/data"]

# `formbot health` fails until the worker's first successful poll, then when the last
# one is older than 3 poll periods.
HEALTHCHECK --interval=1m --timeout=30s --start-period=2m --retries=3 \
  CMD ["formbot", "health"]

# tini forwards SIGTERM to the worker, which finishes the mail in hand and exits, and
# reaps the LibreOffice and reader processes it leaves behind.
ENTRYPOINT ["tini", "--"]
CMD ["formbot", "run"]
