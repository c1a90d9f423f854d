"""openpyxl comes without numpy (parsers/spreadsheets.py), and numpy still imports after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_openpyxl_is_imported_without_numpy_and_numpy_still_works_after() -> None:
    out = run("""
import sys
from parsers.spreadsheets import openpyxl
book = openpyxl().Workbook()
book.active["A1"] = 1.5
print("numpy" in sys.modules, openpyxl().compat.numbers.NUMPY)
import numpy
print(numpy.arange(3).sum())
""")
    assert out == ["False", "False", "3"]


def test_a_process_that_has_numpy_keeps_it() -> None:
    assert run("""
import numpy
from parsers.spreadsheets import openpyxl
print(openpyxl().compat.numbers.NUMPY)
""") == ["True"]


def test_threads_importing_it_at_once_all_get_the_whole_package() -> None:
    # The console's request threads and the campaign threads of `formbot run` ask at once;
    # a thread must never get the half-imported module (AttributeError: Workbook).
    assert run("""
import threading
from parsers.spreadsheets import openpyxl
got = []
def use():
    got.append(type(openpyxl().Workbook()).__name__)
threads = [threading.Thread(target=use) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(set(got)), len(got))
""") == ["['Workbook']", "6"]
