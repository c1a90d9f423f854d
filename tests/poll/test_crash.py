"""`kill -9` at random points of a backlog, again and again: nothing lost, nothing doubled.

The one duplicate formbot cannot rule out is a receipt the SMTP server accepted just
before the crash, when the outbox had not yet recorded it as sent. The test counts
how often it hit that window and allows exactly that many duplicates.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from store.models import Message, Outgoing, Submission
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, Bot, numbered_mail, parse_sent, write_config


def run_until_killed(command: list[str], env: dict[str, str], crash_at: int,
                     log: Path) -> int:
    # stderr to a file, not a pipe: a pipe would also wait for any child still holding it.
    with log.open("ab") as err:
        process = subprocess.Popen(command, env={**env, "FORMBOT_CRASH_AT": str(crash_at)},
                                   stdout=subprocess.DEVNULL, stderr=err)
        process.wait(timeout=300)
    assert process.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    return process.returncode


@pytest.mark.parametrize(("messages", "crashes"), [
    (40, 6),
    pytest.param(200, 20, marks=pytest.mark.slow),
])
def test_sigkill_at_random_points_loses_and_doubles_nothing(
    tmp_path: Path, messages: int, crashes: int
) -> None:
    rng = random.Random(20180615 + messages)
    crash_log = tmp_path / "crashes.log"
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp,
                              limits={"receipts_per_sender_per_day": 1000})
        for n in range(messages):
            imap.append(numbered_mail(n, "crash"))
        formbot = str(Path(sys.executable).with_name("formbot"))
        env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD,
               "FORMBOT_SMTP_PASSWORD": PASSWORD, "FORMBOT_CRASH_LOG": str(crash_log)}
        for attempt in range(crashes):
            bot = Bot.at(config)
            with Session(bot.engine) as session:
                recorded = session.exec(select(func.count()).select_from(Message)).one()
                processed = session.exec(select(func.count()).select_from(Message).where(
                    Message.status == "processed")).one()
                sent = session.exec(select(func.count()).select_from(Outgoing).where(
                    Outgoing.kind == "receipt", Outgoing.status == "sent")).one()
            # Points surely ahead: raw-kept, recorded, processed for mail not yet recorded;
            # processed for recorded mail not yet processed; then one per unsent receipt.
            # The first two thirds of the runs die within the next quarter of the reading; the
            # rest aim past it, at the sending, so both phases are hit many times.
            reading = 3 * (messages - recorded) + (recorded - processed)
            sending = messages - sent
            if reading + sending == 0:
                break
            if attempt >= crashes - crashes // 3 or not reading:
                crash_at = reading + rng.randint(1, sending)
            else:
                crash_at = rng.randint(1, max(1, reading // 4))
            mode = "run" if attempt % 4 == 3 else "poll"
            command = [formbot, mode, "--config", str(config)]
            if mode == "poll":
                command += ["--now", "2018-06-10T10:00:00+08:00"]
            run_until_killed(command, env, crash_at, tmp_path / "stderr.log")

        final = subprocess.run([formbot, "poll", "--config", str(config), "--now",
                                "2018-06-10T12:00:00+08:00"], env=env, capture_output=True,
                               timeout=300, check=False)
        assert final.returncode == 0, final.stderr.decode()
        # `formbot run` also sends the reminders its real clock finds due; count receipts.
        sent_mail = [parse_sent(raw) for _, _, raw in smtp.messages]
        received = Counter(m["In-Reply-To"] for m in sent_mail
                           if m["X-Formbot-Kind"] == "receipt")

    bot = Bot.at(config)
    with Session(bot.engine) as session:
        stored = session.exec(select(Message)).all()
        assert len(stored) == messages and {m.status for m in stored} == {"processed"}
        assert session.exec(select(func.count()).select_from(ActivityRow)).one() == messages
        assert session.exec(select(func.count()).select_from(Submission)).one() == messages
        outbox = session.exec(select(Outgoing).where(Outgoing.kind == "receipt")).all()
        assert len(outbox) == messages and {o.status for o in outbox} == {"sent"}

    points = crash_log.read_text().split() if crash_log.exists() else []
    window_hits = points.count("smtp-accepted")
    assert set(received) == {f"<crash-{n}@example.cn>" for n in range(messages)}
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates == window_hits
    print(f"\n{len(points)} crashes at {dict(Counter(points))}; "
          f"duplicate receipts {duplicates} (= crashes in the SMTP window)")
