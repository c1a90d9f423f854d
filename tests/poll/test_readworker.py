"""A reader process imports what reading needs and nothing of the poller's (bench/memory.py
counts the whole tree): not the CLI, not the database, not numpy, and no
multiprocessing resource tracker beside it."""

from __future__ import annotations

import io

from openpyxl import Workbook

from formbot.poll.reading import WORKER_MEMORY, _init_worker
from formbot.poll.readpool import ReaderPool
from tests.support.helpers import live_readers
from tests.support.readerprobe import children_of_me, heavy_modules, read_a_workbook


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
