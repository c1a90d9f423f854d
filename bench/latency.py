"""Latency benchmark: from a mail landing in the mailbox to its receipt leaving, with IDLE.

    python bench/latency.py [--messages N] [--json PATH]

Dovecot (Debian's dovecot-imapd, `.ci/install-dovecot.sh`) holds the mailbox; formbot's
long-running worker (`formbot run`: formbot/worker.py, IMAP IDLE on, the timed poll ten
hours away so only IDLE can wake it) watches it; aiosmtpd receives the receipts. Each
submission (both forms, .docx + .xlsx, as units send them) is APPENDed to Dovecot after a
random pause, and timed from just before the APPEND to the moment the SMTP server has the
receipt. One warm-up mail first (not counted). Targets: p50 ≤ 5 s, p95 ≤ 10 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

# `python bench/latency.py` puts bench/ first on sys.path, where bench/ingest.py would shadow
# formbot's own `ingest` package; the project root is what we need.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import yaml
from loguru import logger

from formbot.demo import samples
from formbot.demo.imap_server import DEMO_PASSWORD, DEMO_USER
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.worker import Worker
from formbot.settings.loading import load_settings
from store.db import open_database
from tests.support.servers import Dovecot

P50_TARGET, P95_TARGET = 5.0, 10.0
PASSWORD_ENV = "FORMBOT_BENCH_PASSWORD"
ZONE = ZoneInfo("Asia/Shanghai")
# The campaign's clock, before any reminder slot: only receipts reach the SMTP server.
CLOCK = datetime(2018, 6, 1, 10, 0, tzinfo=ZONE)
UNITS = [(f"{street}街道总工会", f"gh{k:02d}@example.cn")
         for k, street in enumerate(["定海路", "平凉路", "江浦路", "四平路", "控江路", "殷行"])]


def submission(i: int) -> bytes:
    name, address = UNITS[i % len(UNITS)]
    activity = samples.FormFill(name, [[f"劳模报告会{i}", "报告会", "2018年6月", "劳模讲述成长经历",
                                        f"约{100 + i}人"]])
    volunteer = samples.FormFill(name, [[f"助老服务队{i}", "张三 主席", "30人", "2016年3月",
                                         "社区助餐", "服务老人500人次"]])
    return samples.build_mail(
        from_addr=address, from_name=name, to_addr=DEMO_USER, subject=f"{name}报送申报表{i}",
        body="请查收。\n", message_id=f"<latency-{i}@example.cn>",
        attachments=[("附件1：主题活动申报表.docx", samples.activity_docx(activity)),
                     ("附件2：志愿者服务队登记表.xlsx", samples.volunteer_xlsx(volunteer))])


def write_config(work: Path, imap: Dovecot, smtp: EmbeddedSMTP) -> Path:
    server = {"host": imap.host, "security": "plain", "username": DEMO_USER,
              "password_env": PASSWORD_ENV}
    data = {
        "mailbox": {**server, "port": imap.port, "folder": "INBOX"},
        "smtp": {**server, "host": smtp.host, "port": smtp.port, "from_address": DEMO_USER,
                 "from_name": "宣传教育部"},
        "database": f"sqlite:///{work / 'formbot.db'}", "data_dir": str(work / "data"),
        "campaign": {"code": "杨工〔2018〕14号", "title": "弘扬劳模精神，建功“创新杨浦”主题活动",
                     "deadline": "2018-06-15", "timezone": "Asia/Shanghai"},
        "units": [{"name": n, "emails": [a]} for n, a in UNITS],
        "schedule": {"poll_minutes": 600, "remind_time": "09:00"},
    }
    if os.environ.get("FORMBOT_TEST_DATABASE"):  # the same run on PostgreSQL
        from tests.support.helpers import database_url

        data["database"] = database_url(work)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30, help="timed submissions")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING", diagnose=False, backtrace=False)
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    # The fixed 2018 clock makes APScheduler call every start-up job "missed" by years.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    os.environ[PASSWORD_ENV] = DEMO_PASSWORD
    mails = [submission(i) for i in range(args.messages + 1)]
    pause = random.Random(0)
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="formbot-bench-latency-") as tmp, \
            Dovecot(user=DEMO_USER, password=DEMO_PASSWORD) as imap, \
            EmbeddedSMTP(user=DEMO_USER, password=DEMO_PASSWORD) as smtp:
        settings = load_settings(write_config(Path(tmp), imap, smtp))
        worker = Worker(settings, engine=open_database(settings.database), clock=lambda: CLOCK)
        worker.start(idle=True)
        try:
            assert worker.wait_for_polls(1), "the worker's start-up poll did not finish"
            for i, raw in enumerate(mails):
                time.sleep(pause.uniform(0.2, 1.5))  # arrivals at any phase of IDLE
                start = time.monotonic()
                imap.append(raw)
                smtp.wait_for(i + 1, timeout=60)
                if i:  # mail 0 warms up (first IDLE, first LibreOffice-free read)
                    latencies.append(time.monotonic() - start)
        finally:
            worker.stop()
            if os.environ.get("FORMBOT_TEST_DATABASE"):
                from tests.support.helpers import drop_test_databases

                drop_test_databases()
        kinds = [samples_kind(raw) for _, _, raw in smtp.messages]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    ok = p50 <= P50_TARGET and p95 <= P95_TARGET and kinds.count("receipt") == len(mails)
    figures = {"messages": len(latencies), "p50_s": p50, "p95_s": p95, "max_s": max(latencies),
               "mean_s": statistics.fmean(latencies), "min_s": min(latencies),
               "receipts": kinds.count("receipt"), "p50_target_s": P50_TARGET,
               "p95_target_s": P95_TARGET, "pass": ok}
    verdict = "PASS" if ok else "FAIL"
    print(f"formbot latency benchmark: mail APPENDed to Dovecot → receipt at the SMTP server, "
          f"IMAP IDLE, {len(latencies)} submissions (after 1 warm-up)")
    print(f"  p50  {p50:6.2f} s   target ≤ {P50_TARGET:.0f} s")
    print(f"  p95  {p95:6.2f} s   target ≤ {P95_TARGET:.0f} s")
    print(f"  min {min(latencies):6.2f} s   max {max(latencies):6.2f} s   "
          f"mean {statistics.fmean(latencies):6.2f} s")
    print(f"  receipts {kinds.count('receipt')} of {len(mails)}   {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def samples_kind(raw: bytes) -> str:
    import email

    return str(email.message_from_bytes(raw).get("X-Formbot-Kind", ""))


if __name__ == "__main__":
    main()
