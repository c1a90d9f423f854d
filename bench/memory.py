"""Memory benchmark: the whole process tree of `formbot poll` ingesting one mail with a
20 MB attachment, measured from outside as an admin's machine feels it.

    python bench/memory.py [--mb 20] [--json PATH]

The attachment is what clerks really send that big: the activity form in Word with the
activity's photos pasted under it (incompressible PNG noise, so the .docx is as big as
its pictures). The IMAP and SMTP servers run in this process; `formbot poll` runs as the
admin runs it (the console script, its own config), and this process samples its tree
(the poller and every reader it starts) every few milliseconds: the sum of their RSS at
one moment (shared library pages counted once per process, as `ps` adds them up) and
the sum of their PSS (shared pages divided among the processes sharing them: what the
machine really gives). Target: the tree's RSS sum ≤ 150 MB.
A second child runs the steps one by one, resetting the high-water mark between them
(/proc/self/clear_refs), to show which step costs what.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

# `python bench/memory.py` puts bench/ first on sys.path, where bench/ingest.py would shadow
# formbot's own `ingest` package; the project root is what we need.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

TARGET_MB = 150.0
PHOTOS = 4
PASSWORD_ENV = "FORMBOT_BENCH_PASSWORD"


# -- the mail -------------------------------------------------------------------------------
def noise_png(size_bytes: int, seed: int) -> bytes:
    """A photo-sized PNG that does not compress (as scans and JPEG photos do not)."""
    side = max(16, int((size_bytes / 3) ** 0.5))
    r = random.Random(seed)
    rows = b"".join(b"\0" + r.randbytes(3 * side) for _ in range(side))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


def big_mail(megabytes: float) -> tuple[bytes, int]:
    """(raw mail, attachment size): the activity form in .docx with photos, to the bot."""
    import docx
    from docx.shared import Cm

    from formbot.demo import samples
    from formbot.demo.imap_server import DEMO_USER

    fill = samples.FormFill("定海路街道总工会", [
        ["劳模先进事迹报告会", "报告会", "2018年6月", "邀请全国劳模讲述成长经历", "约200人"],
        ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"]])
    document = docx.Document(io.BytesIO(samples.activity_docx(fill)))
    document.add_paragraph("活动照片：")
    for k in range(PHOTOS):
        picture = noise_png(int(megabytes * 1024 * 1024 / PHOTOS), seed=k)
        document.add_picture(io.BytesIO(picture), width=Cm(15))
    out = io.BytesIO()
    document.save(out)
    attachment = out.getvalue()
    raw = samples.build_mail(
        from_addr="dhjd_gh@example.cn", from_name="定海路街道总工会", to_addr=DEMO_USER,
        subject="定海路街道总工会报送主题活动申报表（附活动照片）", body="请查收。\n",
        attachments=[("附件1：主题活动申报表（含照片）.docx", attachment)],
        message_id="<bench-memory@example.cn>")
    return raw, len(attachment)


# -- the measured child ---------------------------------------------------------------------
def _status(field: str) -> float:
    """A /proc/self/status figure (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux ≥ 4.0: VmHWM := VmRSS


def _proc_field(pid: int, name: str, table: str = "status") -> float:
    """A /proc/PID/status (or smaps_rollup) figure in MB; 0 for a process gone meanwhile."""
    try:
        for line in Path(f"/proc/{pid}/{table}").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def poll_from_outside(config: Path) -> dict[str, object]:
    """`formbot poll` as the admin runs it, its process tree sampled until it ends."""
    script = Path(sys.executable).with_name("formbot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "formbot.cli"]
    started = subprocess.Popen([*command, "poll", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=config.parent)
    rss_sum = pss_sum = 0.0
    peaks: dict[int, float] = {}
    most = 0
    while started.poll() is None:
        pids = _tree(started.pid)
        most = max(most, len(pids))
        rss_sum = max(rss_sum, sum(_proc_field(pid, "VmRSS") for pid in pids))
        pss_sum = max(pss_sum, sum(_proc_field(pid, "Pss", "smaps_rollup") for pid in pids))
        for pid in pids:
            peaks[pid] = max(peaks.get(pid, 0.0), _proc_field(pid, "VmHWM"))
        time.sleep(0.005)
    out, err = started.communicate()
    if started.returncode != 0:
        raise SystemExit(f"formbot poll failed:\n{out.decode()}{err.decode()}")
    poller = peaks.pop(started.pid, 0.0)
    return {"tree_rss_sum_peak_mb": rss_sum, "tree_pss_sum_peak_mb": pss_sum,
            "poller_peak_mb": poller, "reader_peak_mb": max(peaks.values(), default=0.0),
            "processes_at_once": most, "poll_said": out.decode().strip()}


def child_steps(config: Path) -> dict[str, object]:
    """The poll's big steps one at a time in one process, the high-water mark reset
    before each: what each would cost wherever it runs."""
    from loguru import logger

    from formbot.poll import pipeline, recording
    from formbot.poll.reading import read_message
    from formbot.settings.loading import load_settings
    from ingest.imap import Mailbox
    from store.db import open_database

    logger.remove()
    settings = load_settings(config)
    open_database(settings.database)
    steps: dict[str, float] = {}

    def measure(name: str, step):  # type: ignore[no-untyped-def]
        _reset_peak()
        base = _status("VmRSS")
        result = step()
        steps[name] = _status("VmHWM") - base
        return result

    with Mailbox(pipeline.imap_target(settings)) as box:
        uids = box.new_uids(0)
        ((_uid, kept),) = measure("IMAP fetch, streamed to the raw store",
                                  lambda: box.fetch_to_disk(uids, settings.data_dir))
    measure("Message-ID from the header block", lambda: recording.message_key(kept.path, ""))
    # As a reader does it: from the kept file, part by part (the poller passes the path).
    parsed = measure("read_message on the kept file (split, parse, decode, read forms)",
                     lambda: read_message(kept.path))
    rows = sum(len(form.rows) for form, _ in parsed.forms.values())
    return {"steps_mb": steps, "rows_read_in_steps": rows}


# -- the parent -----------------------------------------------------------------------------
def run_child(mode: str, config: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(config)],
                         capture_output=True, text=True, check=False, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_config(work: Path, imap_port: int, smtp_port: int) -> Path:
    import yaml

    from formbot.demo.imap_server import DEMO_USER, LOOPBACK

    server = {"host": LOOPBACK, "security": "plain", "username": DEMO_USER,
              "password_env": PASSWORD_ENV}
    data = {
        "mailbox": {**server, "port": imap_port, "folder": "INBOX"},
        "smtp": {**server, "port": smtp_port, "from_address": DEMO_USER, "from_name": "宣传教育部"},
        "database": f"sqlite:///{work / 'formbot.db'}", "data_dir": str(work / "data"),
        "campaign": {"code": "杨工〔2018〕14号", "title": "弘扬劳模精神，建功“创新杨浦”主题活动",
                     "deadline": "2018-06-15", "timezone": "Asia/Shanghai"},
        "units": [{"name": "定海路街道总工会", "emails": ["dhjd_gh@example.cn"]}],
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="attachment size in MB")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _mode, config = args.child
        result = child_steps(Path(config))
        print(json.dumps(result))
        return

    import logging

    from formbot.demo.imap_server import DEMO_PASSWORD, DEMO_USER, EmbeddedIMAP
    from formbot.demo.smtp_server import EmbeddedSMTP

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    os.environ[PASSWORD_ENV] = DEMO_PASSWORD
    raw, attachment_size = big_mail(args.mb)
    with tempfile.TemporaryDirectory(prefix="formbot-bench-memory-") as tmp, \
            EmbeddedIMAP(user=DEMO_USER, password=DEMO_PASSWORD) as imap, \
            EmbeddedSMTP(user=DEMO_USER, password=DEMO_PASSWORD) as smtp:
        imap.append(raw)
        (Path(tmp) / "steps").mkdir()
        steps = run_child("steps", write_config(Path(tmp) / "steps", imap.port, smtp.port))
        (Path(tmp) / "poll").mkdir()
        poll = poll_from_outside(write_config(Path(tmp) / "poll", imap.port, smtp.port))
        receipts = len(smtp.wait_for(1, timeout=30))
    tree = float(poll["tree_rss_sum_peak_mb"])  # type: ignore[arg-type]
    ok = tree <= TARGET_MB and receipts == 1 and "已处理 1 封" in str(poll["poll_said"])
    figures = {"attachment_mb": attachment_size / 1024 / 1024, "raw_mb": len(raw) / 1024 / 1024,
               **poll, "receipts_received": receipts, "target_mb": TARGET_MB, "pass": ok,
               **steps}
    print(f"formbot memory benchmark: one mail, {figures['attachment_mb']:.1f} MB attachment "
          f"({figures['raw_mb']:.1f} MB as mail), one `formbot poll`, its tree seen from outside")
    rows = (
        ("peak RSS, poller process (VmHWM)", poll["poller_peak_mb"], ""),
        ("peak RSS, largest reader process (VmHWM; 0: none started)", poll["reader_peak_mb"], ""),
        ("the tree at one moment, RSS summed (as ps adds it up)", tree,
         f"target ≤ {TARGET_MB:.0f} MB  {'PASS' if ok else 'FAIL'}"),
        ("the tree at one moment, PSS summed (shared pages once)", poll["tree_pss_sum_peak_mb"],
         "what the machine gives"),
    )
    for name, value, note in rows:
        print(f"  {name:<58} {value:7.1f} MB  {note}")
    print(f"  processes at once: {poll['processes_at_once']}; receipts {receipts}; "
          f"formbot said: {poll['poll_said']}")
    print("  step by step, in one process (peak above the RSS before the step):")
    for name, value in steps["steps_mb"].items():  # type: ignore[union-attr]
        print(f"    {name:<56} {value:7.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
