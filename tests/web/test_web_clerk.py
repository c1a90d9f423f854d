"""The console's hands for issue 14: a person's mail listed in 来信待处理 with its text and
marked handled; a form moved to another unit (audited, both told); a ※ sender confirmed
or rejected; a unit added to the registry from the mail that waits for it."""

from __future__ import annotations

import dataclasses

from sqlmodel import Session, select

from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.reports.status import status_data
from store.models import KnownSender, Message, Submission, Unit
from tests.support.helpers import ACTIVITY, BOT, NOW, parse_sent
from tests.web.test_web import Console, console  # noqa: F401  (the fixture)

QUESTION = "请问新组建的服务队，“服务成效简介”可以不填吗？"


def _current(console: Console) -> dict[tuple[str | None, str], int]:  # noqa: F811
    with Session(console.bot.engine) as session:
        names = {u.id: u.name for u in session.exec(select(Unit))}
        return {(names.get(s.unit_id), s.form): s.row_count for s in session.exec(  # type: ignore[arg-type]
            select(Submission).where(Submission.current == True))}  # noqa: E712


def test_a_question_waits_for_a_person_and_is_marked_handled(console: Console) -> None:  # noqa: F811
    console.imap.append(build_mail(from_addr="kjl_gh@example.cn", to_addr=BOT, subject="请问",
                                   body=QUESTION, message_id="<q-1@example.cn>", attachments=[]))
    console.bot.poll()
    # The robot does not answer a person.
    assert all("kjl_gh@example.cn" not in to for _, to, _ in console.smtp.messages)
    waiting = status_data(console.bot.settings, engine=console.bot.engine)["waiting"]
    assert [(w["unit"], w["from"], w["text"]) for w in waiting] == [
        ("控江路街道总工会", "kjl_gh@example.cn", QUESTION)]
    console.login()
    page = console.client.get("/waiting")
    assert "来信待处理" in page.text and QUESTION in page.text
    message = console.message("<q-1@example.cn>")
    assert QUESTION in console.client.get(f"/messages/{message.id}").text
    done = console.client.post(f"/messages/{message.id}/handled",
                               data={"csrf": console.csrf("/waiting")})
    assert "已标记为已处理" in done.text
    assert status_data(console.bot.settings, engine=console.bot.engine)["waiting"] == []
    assert any(action == "handled" for _, action, _ in console.audit())


def test_a_form_is_moved_to_another_unit_and_both_are_told(console: Console) -> None:  # noqa: F811
    console.login()
    message = console.message("<dh-1@example.cn>")
    target = console.unit("殷行街道总工会")
    sent = len(console.smtp.messages)
    page = console.client.post(f"/messages/{message.id}/move", data={
        "unit_id": target.id, "form": "activity", "csrf": console.csrf(f"/messages/{message.id}")})
    assert "已将主题活动申报表移至“殷行街道总工会”" in page.text, page.text[:3000]
    current = _current(console)
    assert current[("殷行街道总工会", "activity")] == 3
    assert ("定海路街道总工会", "activity") not in current
    notice = parse_sent(console.smtp.wait_for(sent + 1)[-1][2])
    assert {"dhjd_gh@example.cn", "yinhang_gh@example.cn"} <= set(
        str(notice["To"]).replace(" ", "").split(","))
    assert any(action == "move" for _, action, _ in console.audit())


def test_a_stranger_sender_is_confirmed_or_rejected(console: Console) -> None:  # noqa: F811
    fill = dataclasses.replace(ACTIVITY, unit_text="殷行街道总工会")
    for n in (1, 2):
        console.imap.append(build_mail(from_addr=f"clerk{n}@qq.example", to_addr=BOT,
                                       subject="报送", body="见附件", message_id=f"<s{n}@qq>",
                                       attachments=[("附件1.docx", activity_docx(fill))]))
    console.bot.poll(NOW)
    console.login()
    first, second = console.message("<s1@qq>"), console.message("<s2@qq>")
    assert first.sender_matches_unit is False
    page = console.client.get(f"/messages/{first.id}")
    assert "确认：这是该单位的地址" in page.text
    console.client.post(f"/messages/{first.id}/confirm-sender",
                        data={"csrf": console.csrf(f"/messages/{first.id}")})
    with Session(console.bot.engine) as session:
        assert session.exec(select(KnownSender.address)).all() == ["clerk1@qq.example"]
        assert session.get(Message, first.id).sender_matches_unit is True  # type: ignore[union-attr]
    assert "确认：这是该单位的地址" not in console.client.get(f"/messages/{first.id}").text
    console.client.post(f"/messages/{second.id}/reject-sender",
                        data={"csrf": console.csrf(f"/messages/{second.id}")})
    with Session(console.bot.engine) as session:
        assert session.get(Message, second.id).unit_id is None  # type: ignore[union-attr]
    unmatched = status_data(console.bot.settings, engine=console.bot.engine)["unmatched"]
    assert "<s2@qq>" in {u["message_id"] for u in unmatched}


def test_a_unit_is_added_from_its_unmatched_mail(console: Console) -> None:  # noqa: F811
    console.login()
    message = console.message("<kj-private@example.cn>")
    page = console.client.post(f"/messages/{message.id}/add-unit", data={
        "name": "控江社区工会委员会", "csrf": console.csrf(f"/messages/{message.id}")})
    assert "已把“控江社区工会委员会”加入单位名单" in page.text
    unit = console.unit("控江社区工会委员会")
    assert unit.source == "console" and unit.emails == ["zhouhong@qq.example"]
    assert unit.aliases == ["控江社区工会"]
    assert _current(console)[("控江社区工会委员会", "activity")] == 2
    _ = FormFill  # the fixture's unmatched form is a FormFill too
