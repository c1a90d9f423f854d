"""The project documents itself: README and docs/ point only at files in the repository,
and every file they name exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PATH_LIKE = re.compile(r"`((?:formbot|parsers|ingest|store|notifier|tests|bench|docs|\.ci)/"
                       r"[\w./-]*\w)`")


def test_documents_link_only_to_files_in_the_repository() -> None:
    outside, missing = [], []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if target.startswith(("..", "/")):
                outside.append(f"{doc.name}: {target}")
            elif not (doc.parent / target).exists():
                missing.append(f"{doc.name}: {target}")
        outside += [f"{doc.name}: {m}" for m in re.findall(r"\.\./shared\S*", text)]
    assert outside == [] and missing == []


def test_every_repository_path_the_documents_name_exists() -> None:
    missing = []
    for doc in DOCS:
        for path in PATH_LIKE.findall(doc.read_text(encoding="utf-8")):
            if any(ch in path for ch in "*{<"):
                continue
            if not (REPO / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert missing == []
