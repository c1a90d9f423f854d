"""The image as README's "Running it in a container" runs it, driven through podman.

The container tier (`make container-test`, .ci/container-test.sh) builds the images
first: `formbot` from the Dockerfile and `formbot-test` (the same plus pytest) from
tests/container/Containerfile. Here: the demo, the worker against a real Dovecot and an
SMTP sink on the host, the health check, the user it runs as, `podman stop`, and the
reader-pool tests under the image's own Python (Debian's 3.11.2).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.conftest import BOT, PASSWORD
from tests.support.helpers import ACTIVITY, parse_sent, write_config
from tests.support.servers import Dovecot

pytestmark = pytest.mark.container

IMAGE = os.environ.get("FORMBOT_IMAGE", "formbot")
TEST_IMAGE = os.environ.get("FORMBOT_TEST_IMAGE", "formbot-test")
ROOT = Path(__file__).resolve().parents[2]
USER_ID = 10001          # the image's formbot user (Dockerfile: useradd --uid 10001)
HEALTHY_WITHIN = 120.0   # seconds from `podman run` to a passing `formbot health`
STOP_WITHIN = 30.0       # `podman stop`'s SIGTERM to exit, as `docker stop` allows
# The reader-pool tests of issue 13 (a hanging reader, a killed one); alone they take seconds.
READER_TESTS = ("backlog_with_hanging_mail_in_the_pool or hanging_mail_is_killed"
                " or reader_killed")
READER_TIMEOUT = 180   # a hang is killed, and reported as one


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True,
                            timeout=timeout, check=False)
    # Without systemd (CI) podman cannot schedule a container's health checks, says so on
    # every start, and leaves them to `podman healthcheck run`.
    result.stderr = "".join(line for line in result.stderr.splitlines(keepends=True)
                            if "unable to get systemd connection" not in line)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} → {result.returncode}\n{result.stderr}")
    return result


@pytest.fixture(scope="module", autouse=True)
def _images() -> None:
    for image in (IMAGE, TEST_IMAGE):
        if podman("image", "exists", image, check=False).returncode != 0:
            pytest.fail(f"image {image} missing: run `make container-test` (it builds it)")


@pytest.fixture
def volume() -> Iterator[str]:
    """A named volume, as README mounts /data: the image's /data (owned by formbot)
    is copied into it on first use."""
    name = f"formbot-ct-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", name)
    yield name
    podman("volume", "rm", "-f", name, check=False)


def on_host(volume: str) -> Path:
    return Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip())


def test_demo_completes_and_writes_its_workbook_into_the_working_directory(volume: str) -> None:
    result = podman("run", "--rm", "-v", f"{volume}:/data", IMAGE, "formbot", "demo",
                    timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "汇总表已写入 /data/demo-export.xlsx" in result.stdout
    book = openpyxl.load_workbook(on_host(volume) / "demo-export.xlsx")
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]


def test_demo_in_a_read_only_directory_says_so_in_one_sentence() -> None:
    result = podman("run", "--rm", "-w", "/", IMAGE, "formbot", "demo", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "错误：当前目录 / 不可写，演示无法写入 demo-export.xlsx："
        "请换到可写的目录（容器里是 /data）再运行 formbot demo。"]


@dataclass
class Running:
    name: str
    smtp: EmbeddedSMTP
    started: float
    healthy_after: float


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`formbot run` in the image, as README runs it: config mounted, passwords from an
    env file, /data a named volume; Dovecot and the SMTP sink on the host, hence the
    host's network (README's command, plus --network host)."""
    tmp = tmp_path_factory.mktemp("worker")
    name = f"formbot-ct-{uuid.uuid4().hex[:8]}"
    with Dovecot(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="报送附件1",
                               body="见附件", attachments=[("附件1.docx", activity_docx(ACTIVITY))],
                               message_id="<container-1@example.cn>"))
        config = write_config(tmp, imap, smtp, database="sqlite:////data/formbot.db",
                              data_dir="/data", campaign__reminders=[])
        env_file = tmp / "formbot.env"
        env_file.write_text(f"FORMBOT_IMAP_PASSWORD={PASSWORD}\n"
                            f"FORMBOT_SMTP_PASSWORD={PASSWORD}\n", "utf-8")
        started = time.monotonic()
        podman("run", "-d", "--name", name, "--restart", "unless-stopped",
               "--env-file", str(env_file), "-v", f"{name}:/data",
               "-v", f"{config}:/config/config.yaml:ro", "--network", "host", IMAGE)
        try:
            healthy_after = wait_healthy(name, started)
            yield Running(name, smtp, started, healthy_after)
        finally:
            podman("rm", "-f", "-t", "0", name, check=False)
            podman("volume", "rm", "-f", name, check=False)


def wait_healthy(name: str, started: float) -> float:
    """Runs the image's HEALTHCHECK (no systemd here to schedule it) until it passes."""
    while True:
        check = podman("healthcheck", "run", name, check=False)
        if check.returncode == 0:
            return time.monotonic() - started
        if check.returncode != 1:   # 1 is "unhealthy"; anything else will not change
            raise AssertionError(f"podman healthcheck run: {check.stderr}")
        if time.monotonic() - started > HEALTHY_WITHIN:
            logs = podman("logs", name, check=False)
            raise AssertionError(f"not healthy within {HEALTHY_WITHIN} s: {check.stdout}"
                                 f"{check.stderr}\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)   # the next probe; the worker's first poll is what we wait for


def test_the_worker_takes_a_mail_and_sends_its_receipt(worker: Running) -> None:
    sent = [parse_sent(raw) for _, _, raw in worker.smtp.wait_for(1, timeout=60)]
    (receipt,) = [mail for mail in sent if mail["X-Formbot-Kind"] == "receipt"]
    assert receipt["In-Reply-To"] == "<container-1@example.cn>"
    assert receipt["To"] == "dhjd_gh@example.cn"


def test_it_turns_healthy_and_says_so(worker: Running) -> None:
    print(f"\ncontainer: start to healthy {worker.healthy_after:.1f} s")
    inspect = podman("inspect", "--format", "{{.State.Health.Status}}", worker.name)
    assert inspect.stdout.strip() == "healthy"
    health = podman("exec", worker.name, "formbot", "health")
    assert health.stdout.startswith("正常：")


def test_every_process_runs_as_the_unprivileged_user(worker: Running) -> None:
    top = podman("top", worker.name, "huser", "user", "args")
    rows = [line.split(None, 2) for line in top.stdout.strip().splitlines()[1:]]
    assert rows and {(host, user) for host, user, _ in rows} == {(str(USER_ID), "formbot")}
    assert any("formbot run" in args for _, _, args in rows)


def test_sigterm_stops_it_within_30_seconds(worker: Running) -> None:
    worker.smtp.wait_for(1, timeout=60)   # the worker is past its first poll
    began = time.monotonic()
    podman("stop", "-t", str(int(STOP_WITHIN)), worker.name, timeout=STOP_WITHIN + 30)
    took = time.monotonic() - began
    print(f"\ncontainer: stopped {took:.1f} s after SIGTERM")
    state = podman("inspect", "--format", "{{.State.ExitCode}}", worker.name)
    logs = podman("logs", worker.name)
    assert took < STOP_WITHIN
    assert state.stdout.strip() == "0", logs.stderr   # exited by itself, not killed (137)
    assert "formbot 已停止。" in logs.stdout and "Traceback" not in logs.stderr


def test_the_reader_pool_survives_hanging_and_killed_readers_on_the_image_python() -> None:
    """Debian's own 3.11.2 is where the pool once deadlocked (issue 13)."""
    mounts = ["-v", f"{ROOT / 'tests'}:/srv/formbot/tests:ro",
              "-v", f"{ROOT / 'pyproject.toml'}:/srv/formbot/pyproject.toml:ro"]
    result = podman("run", "--rm", "--network", "none", *mounts, "-w", "/srv/formbot",
                    "-e", "PYTHONDONTWRITEBYTECODE=1", TEST_IMAGE,
                    "timeout", "-s", "KILL", str(READER_TIMEOUT),
                    "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests/poll/test_hostile.py", "-k", READER_TESTS,
                    timeout=READER_TIMEOUT + 60, check=False)
    assert result.returncode != 137, f"hung: killed after {READER_TIMEOUT} s\n{result.stdout}"
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 2 and "failed" not in result.stdout
