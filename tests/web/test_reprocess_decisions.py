"""`formbot reprocess` keeps what the admin decided (issue 14 part 1): a form moved to
another unit and a ※ sender rejected stay as the admin set them when the kept mail is
read again, by its Message-ID or with --all, and the units' status stays right. The
console's actions against real pymap and aiosmtpd, then the CLI as the admin runs it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, select

from formbot.cli.commands import main
from formbot.demo.samples import activity_docx, build_mail
from store.models import Message, Submission, Unit
from store.placements import placements_for
from tests.support.helpers import ACTIVITY, BOT, NOW
from tests.web.test_web import Console, console  # noqa: F401  (the fixture)

LATER = (NOW.replace(hour=11)).isoformat()


def reprocess(tmp_path: Path, *args: str) -> None:
    result = CliRunner().invoke(main, ["reprocess", "--config", str(tmp_path / "config.yaml"),
                                       "--now", LATER, *args])
    assert result.exit_code == 0, result.output


def placed(console: Console, message_id: str) -> dict[str, str | None]:  # noqa: F811
    """Each form of a mail → the unit its submission is filed under."""
    with Session(console.bot.engine) as session:
        names = {u.id: u.name for u in session.exec(select(Unit))}
        message = session.exec(select(Message).where(Message.message_id == message_id)).one()
        return {s.form: names.get(s.unit_id) for s in session.exec(  # type: ignore[arg-type]
            select(Submission).where(Submission.message_ref == message.id))}


def current(console: Console) -> dict[tuple[str, str], str]:  # noqa: F811
    """(unit, form) → the Message-ID whose submission is the unit's current one."""
    with Session(console.bot.engine) as session:
        return {(unit.name, sub.form): message.message_id or message.key
                for sub, unit, message in session.exec(
                    select(Submission, Unit, Message)
                    .join(Unit, Unit.id == Submission.unit_id)  # type: ignore[arg-type]
                    .join(Message, Message.id == Submission.message_ref)  # type: ignore[arg-type]
                    .where(Submission.current == True))}  # noqa: E712


def status(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    shown = CliRunner().invoke(main, ["status", "--json", "--config",
                                      str(tmp_path / "config.yaml")])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)


def submitted(data: dict, unit: str) -> dict[str, bool]:  # type: ignore[type-arg]
    entry = next(u for u in data["units"] if u["name"] == unit)
    return {form: value["submitted"] for form, value in entry["forms"].items()}


def test_a_moved_form_stays_moved_through_reprocess(console: Console,  # noqa: F811
                                                    tmp_path: Path) -> None:
    console.login()
    message = console.message("<dh-1@example.cn>")
    target = console.unit("殷行街道总工会")
    assert placed(console, "<dh-1@example.cn>") == {"activity": "定海路街道总工会",
                                                    "volunteer_team": "定海路街道总工会"}
    console.client.post(f"/messages/{message.id}/move", data={
        "unit_id": target.id, "form": "activity",
        "csrf": console.csrf(f"/messages/{message.id}")})
    moved = {"activity": "殷行街道总工会", "volunteer_team": "定海路街道总工会"}
    assert placed(console, "<dh-1@example.cn>") == moved
    before = current(console)
    assert before[("殷行街道总工会", "activity")] == "<dh-1@example.cn>"
    assert ("定海路街道总工会", "activity") not in before

    reprocess(tmp_path, "<dh-1@example.cn>")
    assert placed(console, "<dh-1@example.cn>") == moved
    assert current(console) == before
    data = status(tmp_path)
    assert submitted(data, "定海路街道总工会") == {"activity": False, "volunteer_team": True}
    assert submitted(data, "殷行街道总工会")["activity"] is True

    reprocess(tmp_path, "--all")   # also reads 殷行's own mail, failed in the fixture
    assert placed(console, "<dh-1@example.cn>") == moved
    assert placed(console, "<yh-1@example.cn>") == {"activity": "殷行街道总工会"}
    after = current(console)
    assert ("定海路街道总工会", "activity") not in after
    assert after[("定海路街道总工会", "volunteer_team")] == "<dh-1@example.cn>"
    data = status(tmp_path)
    assert submitted(data, "定海路街道总工会") == {"activity": False, "volunteer_team": True}
    assert submitted(data, "殷行街道总工会")["activity"] is True

    # Moved back as a whole mail: the newest decision holds, again through a re-read.
    console.client.post(f"/messages/{message.id}/move", data={
        "unit_id": console.unit("定海路街道总工会").id,
        "csrf": console.csrf(f"/messages/{message.id}")})
    reprocess(tmp_path, "--all")
    assert placed(console, "<dh-1@example.cn>") == {"activity": "定海路街道总工会",
                                                    "volunteer_team": "定海路街道总工会"}
    assert submitted(status(tmp_path), "定海路街道总工会") == {"activity": True,
                                                              "volunteer_team": True}


def test_a_rejected_sender_stays_rejected_through_reprocess(console: Console,  # noqa: F811
                                                            tmp_path: Path) -> None:
    fill = dataclasses.replace(ACTIVITY, unit_text="控江路街道总工会")   # names a unit exactly
    console.imap.append(build_mail(from_addr="clerk@qq.example", to_addr=BOT, subject="报送",
                                   body="见附件", message_id="<s1@qq>",
                                   attachments=[("附件1.docx", activity_docx(fill))]))
    console.bot.poll(NOW)
    console.login()
    message = console.message("<s1@qq>")
    assert message.sender_matches_unit is False   # the ※ banner
    assert placed(console, "<s1@qq>") == {"activity": "控江路街道总工会"}
    console.client.post(f"/messages/{message.id}/reject-sender",
                        data={"csrf": console.csrf(f"/messages/{message.id}")})

    for args in (("<s1@qq>",), ("--all",)):
        reprocess(tmp_path, *args)
        assert placed(console, "<s1@qq>") == {"activity": None}, args
        again = console.message("<s1@qq>")
        assert again.unit_id is None and again.sender_matches_unit is None, args
        data = status(tmp_path)
        assert "<s1@qq>" in {u["message_id"] for u in data["unmatched"]}, args
        assert submitted(data, "控江路街道总工会")["activity"] is False, args
        assert ("控江路街道总工会", "activity") not in current(console), args
    with Session(console.bot.engine) as session:
        assert placements_for(session, "<s1@qq>") == {"*": None}

    # The admin changes their mind: filed under the unit, it stays there on a re-read.
    unit = console.unit("控江路街道总工会")
    console.client.post(f"/messages/{message.id}/assign", data={
        "unit_id": unit.id, "csrf": console.csrf("/unmatched")})
    reprocess(tmp_path, "--all")
    assert placed(console, "<s1@qq>") == {"activity": "控江路街道总工会"}
    assert submitted(status(tmp_path), "控江路街道总工会")["activity"] is True
