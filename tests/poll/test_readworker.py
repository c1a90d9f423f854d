"""A reader process imports what reading needs and nothing of the poller's (bench/memory.py
counts the whole tree): not the CLI, not the database, not numpy, and no
multiprocessing resource tracker beside it."""

from __future__ import annotations

import io

from openpyxl import Workbook

from formbot.poll.reading import WORKER_MEMORY, _init_worker
from formbot.poll.readpool import ReaderPool
from tests.support.helpers import live_readers
from tests.support.readerprobe import children_of_me, heavy_modules, read_a_workbook, reader_pids


def a_workbook() -> bytes:
    book = Workbook()
    book.active.append(["序号", "活动名称"])
    book.active.append([1, "劳模报告会"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_reader_holds_only_what_reading_needs() -> None:
    pool = ReaderPool(1, initializer=_init_worker, initargs=(WORKER_MEMORY, None))
    try:
        assert pool.submit(heavy_modules, seconds=60).result(timeout=90) == []
        lines, loaded = pool.submit(read_a_workbook, a_workbook(), seconds=60).result(timeout=90)
        pid_children = pool.submit(children_of_me, seconds=60).result(timeout=90)
    finally:
        pool.close()
    assert lines == 2
    assert loaded == ["openpyxl"]          # at the first workbook, and still without numpy
    assert pid_children == []
    assert not live_readers()


def test_no_resource_tracker_is_started_beside_the_readers() -> None:
    before = [c for c in children_of_me() if "resource_tracker" in c]
    pool = ReaderPool(1)
    try:
        assert pool.submit(sum, [1, 2], seconds=60).result(timeout=90) == 3
        during = [c for c in children_of_me() if "resource_tracker" in c]
    finally:
        pool.close()
    assert during == before


def test_a_module_in_the_working_directory_does_not_shadow_what_a_reader_imports(
        tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # `python -m` would put the poller's working directory first on the reader's path; a
    # pickle.py there (or another checkout's formbot/) must not be what it imports.
    (tmp_path / "pickle.py").write_text("raise SystemExit(3)\n")
    (tmp_path / "formbot").mkdir()
    (tmp_path / "formbot" / "__init__.py").write_text("raise SystemExit(4)\n")
    monkeypatch.chdir(tmp_path)
    pool = ReaderPool(1)
    try:
        assert pool.submit(sum, [2, 3], seconds=60).result(timeout=90) == 5
    finally:
        pool.close()


def test_ctrl_c_at_the_terminal_leaves_a_reading_worker_to_the_poller() -> None:
    # SIGINT goes to the whole process group; the reader ignores it (no traceback on the
    # admin's terminal, the mail in hand is finished) and the poller ends it when it ends.
    import os
    import signal

    pool = ReaderPool(1)
    try:
        (pid,) = pool.submit(reader_pids, seconds=60).result(timeout=90)
        os.kill(pid, signal.SIGINT)
        assert pool.submit(sum, [1, 1], seconds=60).result(timeout=90) == 2
        assert pool.submit(reader_pids, seconds=60).result(timeout=90) == [pid]
    finally:
        pool.close()
    assert not live_readers()
