"""What went wrong with a unit's last try, for its reminder (issue 14 part 4): a unit whose
only mail could not be read is told what failed and what to send, not just "not received"."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from store.models import AttachmentRecord, Message, Submission, Unit


def failed_attempt(session: Session, unit: Unit, zone: ZoneInfo) -> str:
    """A sentence (after 贵单位) about the unit's latest mail that carried files but gave
    no form, or '' when there is none."""
    addresses = [a.lower() for a in unit.emails]
    mails = list(session.exec(select(Message).where(
        (Message.unit_id == unit.id) | col(Message.from_addr).in_(addresses))
        .order_by(col(Message.id).desc()).limit(20)))
    for message in mails:
        took = session.exec(select(Submission.id).where(
            Submission.message_ref == message.id, Submission.row_count > 0)).first()
        if took is not None:
            return ""          # a later or this mail gave rows: nothing failed for good
        problems = list(session.exec(select(AttachmentRecord).where(
            AttachmentRecord.message_ref == message.id,
            col(AttachmentRecord.problem).is_not(None))))
        when = (message.sent_at or message.received_at).astimezone(zone)
        day = f"{when.month}月{when.day}日"
        if problems:
            first = problems[0]
            return (f"{day}发来的邮件中，附件“{first.name}”未能读取：{first.problem}"
                    "请将表格另存为.docx或.xlsx格式后重新发送。")
        if message.status == "failed":
            return (f"{day}发来的邮件系统未能处理完毕，工作人员正在核查；"
                    "请将填好的表格作为附件重新发送一次。")
    return ""
