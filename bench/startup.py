"""Start-up benchmark: `formbot --help` and `formbot status` against `python -c pass`.

    python bench/startup.py [--runs N] [--json PATH]

Each command runs N times (after one warm-up run) as a fresh process, as a user types it;
the figure is the median wall time and its ratio to the bare interpreter's. `status` reads
a real database (SQLite, schema current, a few units and submissions). Then, per command,
which heavy libraries it imported that it does not need, and its ten slowest imports
(`python -X importtime`, cumulative), so a regression names its culprit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

FORMBOT = str(Path(sys.executable).with_name("formbot"))
# Libraries only the mail path, the parsers or other commands need.
NOT_FOR_STATUS = ("imapclient", "mailparser", "docx", "openpyxl", "xlrd", "olefile", "cn2an",
                  "jinja2", "apscheduler", "aiosmtpd", "pymap", "alembic", "rapidfuzz", "lxml")
NOT_FOR_HELP = (*NOT_FOR_STATUS, "sqlalchemy", "sqlmodel", "pydantic", "yaml", "rich", "loguru")
CHECK = ("import sys, runpy\n"
         "sys.argv = ['formbot', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('formbot.cli.commands', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('\\nMODULES ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")


def prepare(work: Path) -> Path:
    """A config and a database with the schema current and some rows, as status meets it."""
    data = {
        "mailbox": {"host": "127.0.0.1", "port": 1143, "security": "plain",
                    "username": "qzxjb2008@126.com", "password_env": "FORMBOT_IMAP_PASSWORD"},
        "smtp": {"host": "127.0.0.1", "port": 1025, "security": "plain",
                 "username": "qzxjb2008@126.com", "password_env": "FORMBOT_SMTP_PASSWORD",
                 "from_address": "qzxjb2008@126.com"},
        "database": f"sqlite:///{work / 'formbot.db'}", "data_dir": str(work / "data"),
        "campaign": {"code": "杨工〔2018〕14号", "title": "弘扬劳模精神，建功“创新杨浦”主题活动",
                     "deadline": "2018-06-15", "timezone": "Asia/Shanghai"},
        "units": [{"name": f"单位{k}总工会", "emails": [f"u{k}@example.cn"]} for k in range(20)],
    }
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    subprocess.run([FORMBOT, "status", "--config", str(config)], check=True,
                   capture_output=True)  # creates the schema: set-up, not timed
    return config


def timed(command: list[str], runs: int) -> float:
    subprocess.run(command, check=True, capture_output=True)  # warm-up: page cache, .pyc
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loaded(args: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, "-c", CHECK, *args], capture_output=True, text=True,
                         check=True).stdout
    return set(out.rpartition("MODULES ")[2].split())


OURS = ("formbot", "parsers", "store", "ingest", "notifier")


def slowest(args: list[str], count: int = 10) -> list[tuple[str, float]]:
    """The costliest imports (cumulative ms, -X importtime): each library where it is first
    imported, and our own modules below the package level (formbot.poll.registry, …)."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", CHECK, *args],
                         capture_output=True, text=True, check=True).stderr
    totals: dict[str, float] = {}
    for line in err.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| *(\S+)", line)
        if not found:
            continue
        name, root = found.group(2), found.group(2).split(".")[0]
        wanted = name.count(".") == 1 if root in OURS else name == root
        if wanted and root not in ("site", "encodings") and name not in totals:
            totals[name] = int(found.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    os.environ.pop("FORMBOT_CONFIG", None)
    with tempfile.TemporaryDirectory(prefix="formbot-bench-startup-") as tmp:
        config = str(prepare(Path(tmp)))
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "formbot --help": ([FORMBOT, "--help"], ["--help"]),
            "formbot status": ([FORMBOT, "status", "--config", config],
                               ["status", "--config", config]),
            "formbot status --json": ([FORMBOT, "status", "--json", "--config", config],
                                      ["status", "--json", "--config", config]),
        }
        medians = {name: timed(command, args.runs) for name, (command, _) in commands.items()}
        extra = {name: sorted(loaded(cli) & set(NOT_FOR_HELP if "help" in name
                                                else NOT_FOR_STATUS))
                 for name, (_, cli) in commands.items() if cli}
        top = {name: slowest(cli) for name, (_, cli) in commands.items() if cli}
    base = medians["python -c pass"]
    print(f"formbot start-up benchmark: median of {args.runs} runs each, fresh processes")
    print(f"  {'command':<24} {'median':>9} {'× python -c pass':>18}")
    for name, value in medians.items():
        print(f"  {name:<24} {value * 1000:7.1f} ms {value / base:17.1f}×")
    for name, modules in extra.items():
        print(f"  {name}: imports it does not need: {', '.join(modules) or 'none'}")
    for name, items in top.items():
        print(f"  {name}: slowest imports (cumulative ms): "
              + ", ".join(f"{package} {ms:.0f}" for package, ms in items))
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "median_s": medians,
                                         "ratio": {k: v / base for k, v in medians.items()},
                                         "unneeded_imports": extra, "slowest_imports": top},
                                        indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
