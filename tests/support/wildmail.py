"""Where the public test mails are: ../shared/wildmail beside the repository, or the folder
$FORMBOT_WILDMAIL names. Never copied into the repository (SOURCES.md there says why).

A test that needs them is marked `wild` (the default suite leaves it out, the wild tier
runs `-m wild`) and fails loudly when they are missing: a skip would hide a tier that
tests nothing."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wildmail_dir() -> Path:
    folder = Path(os.environ.get("FORMBOT_WILDMAIL") or REPO.parent / "shared" / "wildmail")
    if not (folder / "MANIFEST.tsv").is_file():
        raise AssertionError(f"the public test mails are missing: {folder} has no MANIFEST.tsv "
                             "(set FORMBOT_WILDMAIL to the wildmail folder)")
    return folder


def wild_mail(relative: str) -> bytes:
    return (wildmail_dir() / relative).read_bytes()
