"""Console routes for issue 14: 来信待处理 (mail a person answers), and the actions of
formbot/web/clerkactions.py (move, confirm/reject a ※ sender, add a unit, mark handled)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from errors import FormbotError
from formbot.web import clerkactions, pages
from formbot.web.console import (
    checked_form,
    console_of,
    flash,
    login_required,
    redirect,
    render,
    who,
)
from formbot.web.routes import _act, _id
from store.attention import waiting_for_person
from store.models import Unit


@login_required
async def waiting(request: Request) -> Response:
    console = console_of(request)
    with Session(console.engine) as session:
        views = [pages.message_view(session, console.settings, m)
                 for m in waiting_for_person(session=session)]
    return render(request, "waiting.html", {"messages": views})


def _back(form: Any, request: Request) -> tuple[str, dict[str, Any]]:
    back = str(form.get("back") or "")
    if back == "waiting":
        return "waiting", {}
    return "message", {"message_id": _id(request, "message_id")}


@login_required
async def handled(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    return await _act(request, lambda: clerkactions.mark_handled(
        engine=console.engine, message_id=_id(request, "message_id"), now=console.now(),
        who=who(request)), "waiting")


@login_required
async def move(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    unit_id = str(form.get("unit_id") or "")
    if not unit_id.isdigit():
        flash(request, "error", "请先在下拉框中选择一个单位，再点“移至该单位”")
        return redirect(request, "message", message_id=_id(request, "message_id"))
    return await _act(request, lambda: clerkactions.move(
        console.settings, engine=console.engine, message_id=_id(request, "message_id"),
        unit_id=int(unit_id), form=str(form.get("form") or "") or None, now=console.now(),
        who=who(request)), "message", message_id=_id(request, "message_id"))


def _sender_decision(decide: Callable[..., Any]) -> Callable[[Request], Any]:
    """A ※ sender confirmed or rejected: the same form, another decision."""

    @login_required
    async def route(request: Request) -> Response:
        await checked_form(request)
        console = console_of(request)
        message_id = _id(request, "message_id")
        return await _act(request, lambda: decide(
            engine=console.engine, message_id=message_id, now=console.now(),
            who=who(request)), "message", message_id=message_id)

    return route


confirm_sender = _sender_decision(clerkactions.confirm_sender)
reject_sender = _sender_decision(clerkactions.reject_sender)


@login_required
async def add_unit(request: Request) -> Response:
    """Add the unit to the registry, then file the mail under it as `assign` does."""
    form = await checked_form(request)
    console = console_of(request)
    message_id = _id(request, "message_id")

    def work() -> Any:
        from formbot.web import actions

        outcome, unit_id = clerkactions.add_unit(
            engine=console.engine, message_id=message_id, name=str(form.get("name") or ""),
            now=console.now(), who=who(request))
        try:
            filed = actions.assign(console.settings, engine=console.engine,
                                   message_id=message_id, unit_id=unit_id, now=console.now(),
                                   who=who(request))
        except FormbotError as exc:
            return actions.Outcome(f"{outcome.text}{exc}")
        return actions.Outcome(outcome.text + filed.text)

    return await _act(request, work, "message", message_id=message_id)


def active_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(Unit.active == True)  # noqa: E712
                             .order_by(col(Unit.id))))


ROUTES = [
    Route("/waiting", waiting, name="waiting"),
    Route("/messages/{message_id:int}/handled", handled, methods=["POST"], name="handled"),
    Route("/messages/{message_id:int}/move", move, methods=["POST"], name="move"),
    Route("/messages/{message_id:int}/confirm-sender", confirm_sender, methods=["POST"],
          name="confirm_sender"),
    Route("/messages/{message_id:int}/reject-sender", reject_sender, methods=["POST"],
          name="reject_sender"),
    Route("/messages/{message_id:int}/add-unit", add_unit, methods=["POST"], name="add_unit"),
]
