"""Readers given kept files by path: the workers open them, results come back in order,
and a file gone missing fails that mail alone."""

from __future__ import annotations

from pathlib import Path

from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.poll.reading import PARALLEL_MIN, Readers, read_message
from ingest.rawstore import keep_raw
from parsers.errors import ParseError


def _mail(n: int) -> bytes:
    fill = FormFill("定海路街道总工会", [[f"活动{n}", "讲座", "6月", "内容", str(n)]])
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr="bot@example.cn",
                      subject=f"申报{n}", body="", attachments=[("申报表.docx", activity_docx(fill))],
                      message_id=f"<paths-{n}@example.cn>")


def test_workers_read_kept_files_by_path_in_order(tmp_path: Path) -> None:
    paths = [keep_raw(tmp_path, _mail(n))[0] for n in range(PARALLEL_MIN + 2)]
    missing = tmp_path / "raw" / "gone.eml"
    paths.insert(3, missing)
    readers = Readers(None)
    try:
        readers.warm_up()
        results = list(readers.read_all(paths))
    finally:
        readers.close()
    assert isinstance(results[3], FileNotFoundError | ParseError)
    read = [r for r in results if not isinstance(r, Exception)]
    assert [r.forms["activity"][0].rows[0].values["name"] for r in read] == \
        [f"活动{n}" for n in range(PARALLEL_MIN + 2)]
    in_process = read_message(paths[0])
    assert [(f.name, f.sha256, f.size) for f in in_process.files] == \
        [(f.name, f.sha256, f.size) for f in read[0].files]
