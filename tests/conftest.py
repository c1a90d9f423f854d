from __future__ import annotations

import pytest

from tests.servers import (  # noqa: F401
    dovecot_server,
    imap_server,
    smtp_auth_server,
    smtp_server,
)

PASSWORD = "demo-password"  # the embedded servers' password for qzxjb2008@126.com


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMBOT_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv("FORMBOT_SMTP_PASSWORD", PASSWORD)
    monkeypatch.delenv("FORMBOT_CONFIG", raising=False)
