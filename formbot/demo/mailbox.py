"""The demo's mailbox: eight units of 杨浦 answering the notice the way clerks do (Word
or Excel, both forms or one, late, corrected, from a private box, an auto-reply…),
built with samples.py's form and mail builders."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from formbot.demo.samples import (
    FormFill,
    activity_docx,
    activity_xlsx,
    both_docx,
    both_xlsx,
    build_mail,
    volunteer_docx,
    volunteer_xlsx,
)


@dataclass(frozen=True)
class DemoUnit:
    name: str
    aliases: tuple[str, ...]
    email: str


# Addresses sit under reserved example domains so the demo can never mail a real person.
DEMO_UNITS: tuple[DemoUnit, ...] = (
    DemoUnit("定海路街道总工会", ("定海路街道工会",), "dhjd_gh@example.cn"),
    DemoUnit("殷行街道总工会", ("殷行街道工会",), "yinhang_gh@example.cn"),
    DemoUnit("五角场街道总工会", ("五角场街道工会",), "2018061501@qq.example"),
    DemoUnit("控江路街道总工会", ("控江路街道工会", "控江工会"), "kjl_gonghui@126.example"),
    DemoUnit("长白新村街道总工会", ("长白新村街道工会",), "cbxc_gh@163.example"),
    DemoUnit("新江湾城街道总工会", ("新江湾城街道工会",), "xjwc_gh@example.cn"),
    DemoUnit("杨浦区教育工会", ("区教育工会", "教育工会"), "yp_jygh@example.cn"),
    DemoUnit("杨浦区卫生工作者协会", ("区卫生工作者协会", "区卫协"), "ypwx_gh@126.example"),
)

_NOTICE = "关于广泛开展“弘扬劳模精神，建功‘创新杨浦’”主题活动的通知"
_FOXMAIL = {"X-Mailer": "Foxmail 7.2.9.156[cn]"}
_HELLO = "区总工会宣传教育部：\n\n附件是我单位填写的{}，请查收。\n\n{}\n"


def _fill(unit_text: str, footer: str, *rows: str, blank: int = 1) -> FormFill:
    contact, phone, filled_on = footer.split("|")
    return FormFill(unit_text, [r.split("|") for r in rows], contact, phone, filled_on, blank)


def _pair(unit_text: str, footer: str, activity: list[str], volunteer: list[str],
          blank: int = 1) -> tuple[FormFill, FormFill]:
    return _fill(unit_text, footer, *activity), _fill(unit_text, footer, *volunteer, blank=blank)


def demo_mailbox(*, to_addr: str, base: datetime) -> list[bytes]:
    """A mailbox after a few days of the campaign: good, odd and irrelevant mail, oldest first."""
    dh, yh, wjc, _kj, cb, xjw, jy, wx = DEMO_UNITS
    dh_rows = (
        "劳模先进事迹报告会|报告会|2018年6月—7月|邀请全国劳模、“杨浦工匠”走进社区和园区企业，"
        "讲述岗位建功和创新创业的成长经历。|200",
        "“最美劳动者”寻访宣传|宣传栏、微信|2018年6月—9月|在楼宇工会设置宣传栏，微信推送先进事迹，"
        "发动职工推荐身边的最美劳动者。|约150人",
        "劳模工作室进社区|现场访谈|2018年7月|依托劳模创新工作室开展技能展示和便民维修服务。|80余人",
    )
    dh_act, dh_vol = _pair(
        "定海路街道总工会", "王芳|65430000|2018年6月10日", list(dh_rows),
        ["定海路街道职工志愿者服务队|陈建国 主席|45|2016年3月|社区助老、环境整治、文明交通劝导|"
         "累计开展服务60余次，服务居民2000余人次。",
         "“小巷工匠”维修服务队|李秀英（工会主席）|12|2018.5|为困难家庭义务维修水电|"], blank=2,
    )
    dh_fixed = _fill(
        "定海路街道总工会", "王芳|65430000|2018年6月12日",
        dh_rows[0], dh_rows[1].replace("约150人", "约300人"), dh_rows[2],
        "“劳模精神进楼宇”微党课|微党课|2018年8月|组织劳模走进商务楼宇讲微党课。|60人",
    )
    yh_act, yh_vol = _pair(
        "殷行街道总工会", "刘洋|55210011|2018年6月8日",
        ["“劳模先进话改革”座谈会|座谈会|2018年6月下旬|邀请劳模先进畅谈改革开放40年的亲身经历。|60",
         "民生服务岗位技能竞赛|竞赛|2018年7月—8月|围绕家政、物业维修等岗位开展技能比武。|二百人"],
        ["殷行街道职工志愿者服务队|王志强，副主席|30|2016.3|助老助残、垃圾分类宣传|"
         "服务社区老人500余人次，开展垃圾分类宣传20余场。"], blank=3,
    )
    wjc_act, wjc_vol = _pair(
        "五角场街道总工会", "赵敏|65241234|2018.6.11",
        ["“弘扬劳模精神”大讲堂|大讲堂|2018年6月—12月|每月邀请一位劳模走进商圈楼宇宣讲先进事迹，"
         "网站、微博同步直播。|1,200人",
         "创新工作室开放日|参观交流|2018年9月|组织职工参观劳模创新工作室，交流先进操作法。|100人"],
        ["五角场商圈职工志愿者服务队|赵敏 工会主席|60|2017-05-20|商圈文明引导、应急救护知识普及|"
         "保障商圈大型活动15次，培训应急救护志愿者120人。",
         "白领青年志愿服务分队|孙磊（副主席）|25人|2015年|结对关爱外来务工人员子女|"
         "结对帮扶外来务工人员子女40名。"],
    )
    # Signed with an alias and sent from a private mailbox: only 填报单位 tells who it is.
    kj_act, kj_vol = _pair(
        "控江路街道工会", "周红|13900000000|2018年6月12日",
        ["劳模先进事迹展|展板巡展|2018年6月—8月|制作劳模先进事迹展板，在各居民区巡回展出。|约500人"],
        ["控江路街道职工志愿者服务队|周红 主席|38|2016年|文明城区创建志愿服务|累计服务3000小时。"],
    )
    cb_act, cb_vol = _pair(
        "长白新村街道总工会", "吴丽华|65010203|2018年6月13日",
        ["“身边的工匠”微视频展播|视频展播|2018年7月—9月|拍摄一线职工岗位建功微视频并展播。|300",
         "职工读书会|学习会|2018年6月起每月一次|学习党的十九大精神，交流岗位成才体会。|50余人"],
        ["长白新村街道“暖心”服务队|吴丽华（工会副主席）|20|2017年9月|独居老人结对关爱|"
         "结对独居老人35户，每周上门探访。"],
    )
    jy_act = _fill(
        "杨浦区教育工会", "钱静|65438800|2018年6月9日",
        "师德标兵事迹宣讲|宣讲会|2018年6月—7月|组织劳模和师德标兵到中小学巡回宣讲。|800",
        "“杨浦工匠”进校园|现场展示|2018年10月|邀请“杨浦工匠”走进职业学校开展高师带徒。|约260人",
    )
    wx_act, wx_vol = _pair(
        "杨浦区卫生工作者协会", "郑华|65120000|2018年6月14日",
        [# Deliberately over the 100-character limit: the parser must keep it and flag it.
         "“最美医务工作者”事迹报告会|报告会|2018年6月|邀请全国和上海市劳模、五一劳动奖获得者中的"
         "医务工作者，结合家庭医生签约服务、急诊抢救、社区公共卫生等一线岗位的真实案例，讲述坚守"
         "岗位、精益求精、服务群众的先进事迹，并组织青年医务人员现场交流学习体会，营造尊重劳模、"
         "学习劳模的良好氛围。|400",
         "家庭医生技能竞赛|竞赛|2018年9月—10月|开展家庭医生岗位技能竞赛。|120人"],
        ["杨浦卫生职工健康志愿服务队|郑华 办公室主任|80|2014.6|社区义诊、健康讲座|"
         "开展社区义诊40余场，受益居民5000余人次。"],
    )
    mails: list[dict[str, Any]] = [
        dict(from_addr=dh.email, from_name="定海路街道总工会",
             subject="定海路街道总工会报送主题活动申报表及志愿者服务队登记表",
             body=_HELLO.format("主题活动申报表和志愿者服务队登记表", "定海路街道总工会 王芳"),
             attachments=[("附件1：主题活动申报表（定海路）.docx", activity_docx(dh_act)),
                          ("附件2：志愿者服务队登记表（定海路）.docx", volunteer_docx(dh_vol))]),
        dict(from_addr=yh.email, from_name="殷行街道工会 刘洋", subject="回复：" + _NOTICE,
             body=_HELLO.format("两张表", "殷行街道总工会"), filename_style="rfc2047-quoted",
             extra_headers=_FOXMAIL,
             attachments=[("殷行街道-主题活动申报表.xlsx", activity_xlsx(yh_act)),
                          ("殷行街道-志愿者服务队登记表.xlsx", volunteer_xlsx(yh_vol))]),
        dict(from_addr=wjc.email, from_name="赵敏", subject="五角场街道总工会 附件1、附件2",
             body=_HELLO.format("附件1和附件2（在一个文件里）", "五角场街道工会 赵敏"),
             filename_style="raw-gbk", transfer_encoding="quoted-printable",
             attachments=[("五角场街道总工会申报表.docx", both_docx(wjc_act, wjc_vol))]),
        dict(from_addr="zhouhong1975@163.example", from_name="周红",
             subject="控江路街道工会申报表", body=_HELLO.format("申报表", "控江路街道工会 周红"),
             transfer_encoding="quoted-printable",
             attachments=[("附件1 主题活动申报表.docx", activity_docx(kj_act)),
                          ("附件2 志愿者服务队登记表.docx", volunteer_docx(kj_vol))]),
        dict(from_addr=xjw.email, from_name="新江湾城街道总工会", subject="咨询：登记表怎么填",
             body="您好！请问新组建的服务队，“服务成效简介”可以不填吗？谢谢！\n新江湾城街道总工会",
             attachments=[], transfer_encoding="8bit"),
        dict(from_addr=jy.email, from_name="Qian Jing", subject="jiaoyu gonghui huodong shenbao",
             body=_HELLO.format("主题活动申报表，登记表随后补报", "区教育工会 钱静"),
             filename_style="ascii",
             attachments=[("huodong_shenbao_jygh.xlsx", activity_xlsx(jy_act))]),
        dict(from_addr=cb.email, from_name="长白新村街道总工会",
             subject="【长白新村街道】主题活动申报表、志愿者服务队登记表",
             body=_HELLO.format("两张表（一个工作簿两个工作表）", "长白新村街道总工会 吴丽华"),
             filename_style="rfc2047-quoted", transfer_encoding="quoted-printable",
             extra_headers=_FOXMAIL,
             attachments=[("长白新村街道总工会-附件1附件2.xlsx", both_xlsx(cb_act, cb_vol))]),
        dict(from_addr=wx.email, from_name="区卫协 郑华", subject="区卫生工作者协会报送材料",
             body=_HELLO.format("申报表和登记表", "杨浦区卫生工作者协会 郑华"),
             attachments=[("卫协主题活动申报表.docx", activity_docx(wx_act)),
                          ("卫协志愿者服务队登记表.xlsx", volunteer_xlsx(wx_vol))]),
        dict(from_addr=xjw.email, from_name="新江湾城街道总工会", subject="自动回复: " + _NOTICE,
             body="您好，我于6月11日至14日休假，邮件将在返岗后处理。", attachments=[],
             extra_headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All",
                            "In-Reply-To": "<notice-2018-14@example.cn>"}),
        dict(from_addr="news@gonghui-news.example", from_name="工会信息周刊",
             subject="《工会信息》电子周刊 2018年第23期",
             body="本期要目：劳模工匠精神弘扬行动启动；职工科技节报名开始……\n退订请点击底部链接。",
             attachments=[], transfer_encoding="quoted-printable",
             extra_headers={"List-Unsubscribe": "<mailto:unsubscribe@gonghui-news.example>",
                            "List-Id": "<weekly.gonghui-news.example>", "Precedence": "bulk"}),
        dict(from_addr=dh.email, from_name="定海路街道总工会",
             subject="【更正】定海路街道总工会主题活动申报表",
             body="区总工会宣传教育部：\n\n之前报送的申报表参与人数有误，并补充一项活动，以此版为准。\n",
             filename_style="rfc2047-quoted",
             attachments=[("附件1：主题活动申报表（定海路）更正版.docx", activity_docx(dh_fixed))]),
    ]
    return [
        build_mail(to_addr=to_addr, date=base + timedelta(hours=k),
                   message_id=f"<demo-{k}@example.cn>", **mail)
        for k, mail in enumerate(mails)
    ]
