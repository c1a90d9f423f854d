# formbot worker: `formbot run` polling the mailbox, reminding and sending digests.
#   docker build -t formbot .
#   docker run -d --name formbot \
#     -v formbot-data:/data \
#     -v "$PWD/config.yaml:/config/config.yaml:ro" \
#     -e FORMBOT_IMAP_PASSWORD=授权码 -e FORMBOT_SMTP_PASSWORD=授权码 formbot
FROM python:3.11-slim-bookworm

# LibreOffice (no GUI) converts legacy .doc/.xls/.wps/.et forms; fonts so Chinese text survives;
# bsdtar (libarchive-tools) unpacks .rar.
# python3-uno brings Debian's /usr/bin/python3 with the UNO bridge the warm converter runs
# under (the image's own Python in /usr/local cannot import uno).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libreoffice-writer-nogui libreoffice-calc-nogui python3-uno libarchive-tools fonts-noto-cjk tini \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin formbot \
 && mkdir -p /data /config && chown formbot:formbot /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY formbot ./formbot
COPY ingest ./ingest
COPY parsers ./parsers
COPY store ./store
COPY notifier ./notifier
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER formbot
ENV FORMBOT_CONFIG=/config/config.yaml \
    HOME=/home/formbot \
    PYTHONUNBUFFERED=1
# The mounted config.yaml should say  database: sqlite:////data/formbot.db  and  data_dir: /data
VOLUME ["/data"]

HEALTHCHECK --interval=5m --timeout=30s --start-period=2m \
  CMD ["formbot", "health"]

# tini forwards SIGTERM so `docker stop` lets the worker finish the message in hand.
ENTRYPOINT ["tini", "--"]
CMD ["formbot", "run"]
