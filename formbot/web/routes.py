"""The console's pages (GET, read only) and actions (POST: login, CSRF token, audit entry)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from errors import FormbotError
from formbot.reports.export import write_export
from formbot.web import actions, pages, paper
from formbot.web.console import (
    checked_form,
    console_of,
    flash,
    login_required,
    redirect,
    render,
    who,
)
from formbot.web.sql import MAX_ROWS, QueryRefused, examples, run_query
from ingest.rawstore import read_raw
from notifier import outboxadmin
from store import audit
from store.models import Message, Unit


def _id(request: Request, name: str) -> int:
    return int(request.path_params[name])


def _download(data: bytes, filename: str, media_type: str) -> Response:
    # RFC 6266/5987: old clients get the ASCII name, browsers the Chinese one.
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


@login_required
async def home(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        data = pages.progress(session, console.settings, today=console.now().date())
    return render(request, "progress.html", data)


@login_required
async def unit_detail(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        unit = session.get(Unit, _id(request, "unit_id"))
        if unit is None:
            raise HTTPException(404, "没有这个单位")
        data = pages.unit_page(session, console.settings, unit)
    return render(request, "unit.html", data)


@login_required
async def message_detail(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        message = session.get(Message, _id(request, "message_id"))
        if message is None:
            raise HTTPException(404, "没有这封邮件")
        view = pages.message_view(session, console.settings, message)
        papers = paper.paper_views(session, message, [s.submission for s in view.submissions],
                                  console.settings.forms)
        units = list(session.exec(select(Unit).where(Unit.active == True)))  # noqa: E712
    unmatched = view.unit is None and bool(view.submissions) and \
        message.outcome != actions.DISMISSED
    from formbot.reports.mailtext import mail_text

    return render(request, "message.html", {"m": view, "units": units, "unmatched": unmatched,
                                            "papers": papers,
                                            "text": mail_text(message.raw_path),
                                            "columns": pages.columns_by_form(
                                                console.settings.forms)})


@login_required
async def raw_mail(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    with Session(console.engine) as session:
        message = session.get(Message, _id(request, "message_id"))
        if message is None:
            raise HTTPException(404, "没有这封邮件")
        path, key = message.raw_path, message.key
        audit.record(session, at=console.now(), who=who(request), action="download-raw",
                     detail=f"邮件 {key}")
        session.commit()
    return _download(read_raw(path), f"邮件原件-{_id(request, 'message_id')}.eml",
                     "message/rfc822")


@login_required
async def page_image(request: Request) -> Response:
    """A kept attachment's page as PNG, for the page shown beside the rows."""
    console = console_of(request)
    with Session(console.engine) as session:
        message = session.get(Message, _id(request, "message_id"))
        if message is None:
            raise HTTPException(404, "没有这封邮件")
        session.expunge(message)
    try:
        data = await run_in_threadpool(paper.page_image, message,
                                       str(request.path_params["sha256"]),
                                       int(request.path_params["page"]),
                                       request.query_params.get("file", ""))
    except FormbotError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})


@login_required
async def correct_cell(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    message_id = _id(request, "message_id")
    seq = str(form.get("seq") or "")
    if not seq.isdigit():
        flash(request, "error", "请填写要更正的行号（序号）")
        return redirect(request, "message", message_id=message_id)
    return await _act(request, lambda: actions.Outcome(paper.correct_cell(
        console.settings, engine=console.engine, message_id=message_id,
        form=str(form.get("form") or ""), seq=int(seq), field_key=str(form.get("field") or ""),
        value=str(form.get("value") or ""), now=console.now(), who=who(request))),
        "message", message_id=message_id)


@login_required
async def unmatched(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        data = pages.unmatched_page(session, console.settings)
    return render(request, "unmatched.html", data)


@login_required
async def failed(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        data = pages.failed_page(session, console.settings)
    return render(request, "failed.html", {
        "messages": data, "max_attempts": console.settings.mailbox.max_attempts})


async def _act(request: Request, work: Any, back: str, **params: Any) -> Response:
    """Run an action off the event loop (it may read attachments and talk SMTP) and tell
    the admin how it went on the page they return to."""
    try:
        outcome = await run_in_threadpool(work)
    except FormbotError as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok" if outcome.ok else "error", outcome.text)
    return redirect(request, back, **params)


@login_required
async def assign(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    unit_id = str(form.get("unit_id") or "")
    if not unit_id.isdigit():
        flash(request, "error", "请先在下拉框中选择一个单位，再点“归入”")
        return redirect(request, "unmatched")
    return await _act(request, lambda: actions.assign(
        console.settings, engine=console.engine, message_id=_id(request, "message_id"),
        unit_id=int(unit_id), now=console.now(), who=who(request),
        remember=form.get("remember") == "yes"), "unmatched")


@login_required
async def forget_sender(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    unit_id = _id(request, "unit_id")
    return await _act(request, lambda: actions.forget_sender(
        engine=console.engine, unit_id=unit_id, address=str(form.get("address") or ""),
        now=console.now(), who=who(request)), "unit", unit_id=unit_id)


@login_required
async def dismiss(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    if form.get("confirm") != "yes":
        flash(request, "error", "请先勾选“确认这封邮件不属于任何单位”，再点“标记为无需处理”")
        return redirect(request, "unmatched")
    return await _act(request, lambda: actions.dismiss(
        engine=console.engine, message_id=_id(request, "message_id"), now=console.now(),
        who=who(request)), "unmatched")


@login_required
async def retry(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    return await _act(request, lambda: actions.retry(
        console.settings, engine=console.engine, message_id=_id(request, "message_id"),
        now=console.now(), who=who(request)), "failed")


@login_required
async def outbox_page(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        state = outboxadmin.outbox_state(session, console.settings.campaign.zone)
    return render(request, "outbox.html", {"outbox": state, "kinds": outboxadmin.KIND})


@login_required
async def outbox_retry(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    ident = _id(request, "outgoing_id")

    def work() -> actions.Outcome:
        outboxadmin.retry(console.engine, ids=[ident], now=console.now(), who=who(request))
        return actions.Outcome(f"第 {ident} 封已放回发件箱，下次收信时重新发送。")

    return await _act(request, work, "outbox")


@login_required
async def outbox_drop(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    ident = _id(request, "outgoing_id")

    def work() -> actions.Outcome:
        outboxadmin.drop(console.engine, ident=ident, now=console.now(), who=who(request))
        return actions.Outcome(f"已放弃第 {ident} 封，不会再发送（记录保留）。")

    return await _act(request, work, "outbox")


@login_required
async def search(request: Request) -> Response:
    console = console_of(request)
    query = request.query_params.get("q", "")[:100]
    with Session(console.engine) as session:
        results = pages.search(session, console.settings, query)
    return render(request, "search.html", {"q": query, "results": results,
                                           "limit": pages.SEARCH_LIMIT})


@login_required
async def export(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    now = console.now()

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="formbot-export-") as folder:
            out = Path(folder) / "export.xlsx"
            write_export(console.settings, engine=console.engine, out=out)
            return out.read_bytes()

    data = await run_in_threadpool(build)
    with Session(console.engine) as session:
        audit.record(session, at=now, who=who(request), action="export", detail="下载汇总表")
        session.commit()
    return _download(data, f"汇总表-{now:%Y%m%d-%H%M}.xlsx",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
async def sql_page(request: Request) -> Response:
    listed = examples(console_of(request).settings.forms)
    context: dict[str, Any] = {"examples": listed, "sql": "", "result": None, "error": None,
                               "max_rows": MAX_ROWS}
    example = request.query_params.get("example", "")
    if example.isdigit() and int(example) < len(listed):
        context["sql"] = listed[int(example)][1]
    if request.method == "POST":
        form = await checked_form(request)
        console = console_of(request)
        sql = str(form.get("sql") or "")[:20000]
        context["sql"] = sql
        try:
            context["result"] = await run_in_threadpool(run_query, console.engine, sql)
        except QueryRefused as exc:
            context["error"] = str(exc)
        with Session(console.engine) as session:
            # Reads are logged too: a query can take every unit's contacts away.
            audit.record(session, at=console.now(), who=who(request), action="sql",
                         detail=sql + (f"\n→ 拒绝：{context['error']}" if context["error"] else ""))
            session.commit()
    return render(request, "sql.html", context)


@login_required
async def audit_log(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        entries = [(pages.local(console.settings, e.at), e.who, e.action, e.detail)
                   for e in audit.recent(session)]
    return render(request, "audit.html", {"entries": entries})


ROUTES = [
    Route("/", home, name="home"),
    Route("/units/{unit_id:int}", unit_detail, name="unit"),
    Route("/units/{unit_id:int}/forget-sender", forget_sender, methods=["POST"],
          name="forget_sender"),
    Route("/messages/{message_id:int}", message_detail, name="message"),
    Route("/messages/{message_id:int}/raw", raw_mail, methods=["POST"], name="raw"),
    Route("/messages/{message_id:int}/assign", assign, methods=["POST"], name="assign"),
    Route("/messages/{message_id:int}/dismiss", dismiss, methods=["POST"], name="dismiss"),
    Route("/messages/{message_id:int}/retry", retry, methods=["POST"], name="retry"),
    Route("/messages/{message_id:int}/pages/{sha256:str}/{page:int}.png", page_image,
          name="page_image"),
    Route("/messages/{message_id:int}/correct", correct_cell, methods=["POST"],
          name="correct_cell"),
    Route("/unmatched", unmatched, name="unmatched"),
    Route("/failed", failed, name="failed"),
    Route("/outbox", outbox_page, name="outbox"),
    Route("/outbox/{outgoing_id:int}/retry", outbox_retry, methods=["POST"], name="outbox_retry"),
    Route("/outbox/{outgoing_id:int}/drop", outbox_drop, methods=["POST"], name="outbox_drop"),
    Route("/search", search, name="search"),
    Route("/export", export, methods=["POST"], name="export"),
    Route("/sql", sql_page, methods=["GET", "POST"], name="sql"),
    Route("/audit", audit_log, name="audit"),
]
