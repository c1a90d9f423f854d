from __future__ import annotations

from collections.abc import Iterator

import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.support.helpers import drop_test_databases
from tests.support.servers import (  # noqa: F401
    dovecot_server,
    imap_server,
    smtp_auth_server,
    smtp_server,
)

BOT = "qzxjb2008@126.com"
PASSWORD = "demo-password"  # the embedded servers' password for qzxjb2008@126.com


@pytest.fixture
def servers() -> Iterator[tuple[EmbeddedIMAP, EmbeddedSMTP]]:
    """pymap and aiosmtpd on loopback, both asking for the bot's login, as 126.com does."""
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        yield imap, smtp


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMBOT_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv("FORMBOT_SMTP_PASSWORD", PASSWORD)
    monkeypatch.delenv("FORMBOT_CONFIG", raising=False)


@pytest.fixture(autouse=True)
def _fresh_databases() -> Iterator[None]:
    """With FORMBOT_TEST_DATABASE set, each test's databases are dropped after it."""
    yield
    drop_test_databases()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The container tier (tests/system/test_container.py) runs only when `-m` names it: it needs
    images `make container-test` builds, and a suite's `-m "not …"` list need not know it."""
    if "container" in (config.getoption("markexpr") or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("container") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen
