"""Form declarations are data: the built-in YAML, an admin's `campaign.forms`, and the
Chinese sentence that refuses a wrong one (file, form, field, what is expected)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from formbot.settings.config import ConfigError
from formbot.settings.loading import load_config, load_settings
from parsers.builtin import FORMS, builtin_forms, form_by_key
from parsers.declare import parse_declarations, sheet_name_problem
from parsers.errors import DeclarationError
from tests.cli.test_config import write

# The forms as the Python declared them before they became data: every alias and the
# leader's parts must survive the move (recognition depends on each).
BEFORE = {
    "activity": ("“弘扬劳模精神，建功‘创新杨浦’”主题活动申报表", "主题活动申报表",
                 ("主题活动申报表", "主题活动"), [
        ("seq", "序号", "seq", ("编号", "序"), None, False, ()),
        ("name", "活动名称", "text", ("活动主题", "项目名称"), None, True, ()),
        ("form", "活动形式", "text", ("形式",), None, False, ()),
        ("schedule", "时间安排", "text", ("活动时间", "时间"), None, False, ()),
        ("content", "主要内容和形式", "text",
         ("主要内容及形式", "主要内容", "活动内容", "内容和形式"), 100, False, ()),
        ("participants", "参与人数", "count", ("参加人数", "人数", "参与人次"), None, False, ()),
    ]),
    "volunteer_team": ("杨浦职工志愿者服务队登记表", "志愿者服务队登记表",
                       ("志愿者服务队登记表", "服务队登记表", "志愿者服务队"), [
        ("seq", "序号", "seq", ("编号", "序"), None, False, ()),
        ("team_name", "登记服务队名称", "text", ("服务队名称", "队伍名称", "志愿者服务队名称"),
         None, True, ()),
        ("leader", "负责人姓名及职务", "leader",
         ("负责人姓名和职务", "负责人及职务", "负责人姓名", "负责人", "负责人职务", "负责人职位"),
         None, False, (("name", ("负责人姓名", "负责人")),
                       ("title", ("负责人职务", "负责人职位", "职务", "职位")))),
        ("size", "服务队人数", "count", ("队员人数", "人数"), None, False, ()),
        ("founded", "服务队组建时间", "date", ("组建时间", "成立时间"), None, False, ()),
        ("service", "服务内容", "text", ("服务项目",), 50, False, ()),
        ("results", "服务成效简介", "text", ("服务成效", "成效简介"), 100, False, ()),
    ]),
}


def test_builtin_yaml_declares_what_the_python_did() -> None:
    assert [f.key for f in FORMS] == ["activity", "volunteer_team"]
    for spec in builtin_forms():
        title, short, words, fields = BEFORE[spec.key]
        assert (spec.title, spec.short, spec.title_words) == (title, short, words)
        assert [(f.key, f.label, f.kind, f.aliases, f.max_len, f.required, f.parts)
                for f in spec.fields] == fields
    leader = form_by_key("volunteer_team").field("leader")
    assert leader.columns == ("leader_name", "leader_title")
    assert leader.export_headers == ("负责人姓名", "负责人职务")
    assert form_by_key("activity").attachment == "附件1"
    assert builtin_forms() is builtin_forms()   # read once per process


NOMINATION = [{
    "key": "nominee", "title": "先进个人推荐表", "short": "推荐表", "attachment": "附件1",
    "template": "blank/附件1.docx", "title_words": ["推荐表"],
    "fields": [
        {"key": "name", "label": "姓名", "required": True},
        {"key": "gender", "label": "性别", "kind": "choice", "options": ["男", "女"]},
        {"key": "idcard", "label": "身份证号", "kind": "idcard"},
        {"key": "budget", "label": "经费", "kind": "money", "unit": "万元"},
        {"key": "head", "label": "推荐人姓名及职务", "kind": "leader"},
    ],
}]


def test_a_declaration_in_its_own_file_resolves_templates_beside_it(tmp_path: Path) -> None:
    (tmp_path / "notice").mkdir()
    forms_file = tmp_path / "notice" / "forms.yaml"
    forms_file.write_text(yaml.safe_dump(NOMINATION, allow_unicode=True), encoding="utf-8")
    path = write(tmp_path, lambda d: d["campaign"].update(forms="notice/forms.yaml"))
    (spec,) = load_settings(path).forms
    assert spec.template == str(tmp_path / "notice" / "blank" / "附件1.docx")
    assert spec.field("budget").unit == "万元"
    assert spec.field("gender").options == ("男", "女")
    head = spec.field("head")
    assert head.export_headers == ("推荐人姓名", "推荐人职务")
    assert dict(head.parts)["title"][:2] == ("推荐人职务", "推荐人职位")


def test_a_list_in_config_yaml_and_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d["campaign"].update(forms=NOMINATION))
    (spec,) = load_settings(path).forms
    assert spec.template == str(tmp_path / "blank" / "附件1.docx")
    assert load_settings(write(tmp_path)).forms == builtin_forms()


def test_each_campaign_has_its_own_forms(tmp_path: Path) -> None:
    def two(data: dict[str, Any]) -> None:
        other = copy.deepcopy(data["campaign"])
        other.update(code="杨工〔2019〕3号", forms=NOMINATION)
        data["campaigns"] = [{"campaign": other, "data_dir": "data-2019",
                              "mailbox": {**data["mailbox"], "folder": "B"}}]

    first, second = load_config(write(tmp_path, two)).campaigns
    assert [f.key for f in first.forms] == ["activity", "volunteer_team"]
    assert [f.key for f in second.forms] == ["nominee"]


def _form_error(tmp_path: Path, change: Any) -> str:
    forms = copy.deepcopy(NOMINATION)
    change(forms)
    path = write(tmp_path, lambda d: d["campaign"].update(forms=forms))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f[0]["fields"][1].update(kind="sex"),
     "第1张表“nominee”的字段“性别”的 kind：应为 text、count"),
    (lambda f: f[0]["fields"][1].pop("options"), "字段“性别”：kind 为 choice 时应写 options"),
    (lambda f: f[0]["fields"][2].update(key="Name"), "字段“身份证号”的 key：应为小写英文字母开头"),
    (lambda f: f[0]["fields"][2].update(key="name"), "key “name” 与字段“姓名”重复"),
    (lambda f: f.append(copy.deepcopy(f[0])), "表格的 key “nominee” 重复"),
    (lambda f: f[0].update(short="推荐表/2019"), "short “推荐表/2019”不能含有 [ ] : * ? / \\"),
    (lambda f: f[0].update(short="长" * 32), "不能超过 31 个字"),
    (lambda f: f[0]["fields"][3].update(unit="美元"), "字段“经费”的 unit：应为 元 或 万元"),
    (lambda f: f[0]["fields"][0].update(unit="元"), "字段“姓名”：unit 只用于 kind: money"),
    (lambda f: f[0]["fields"][0].update(max_len=0), "字段“姓名”的 max_len：应大于 0"),
    (lambda f: f[0].pop("title"), "第1张表“nominee”的 title：缺少这一项"),
    (lambda f: f[0]["fields"][0].update(colour="red"), "字段“姓名”的 colour：未知的项"),
    (lambda f: f[0]["fields"][2].update(aliases=["姓名"]), "表头“姓名”也属于字段“姓名”"),
    (lambda f: f[0]["fields"][4].update(export=["推荐人"]), "export 应写 2 个列名"),
])
def test_wrong_declarations_are_refused_in_chinese(tmp_path: Path, change: Any,
                                                   expected: str) -> None:
    message = _form_error(tmp_path, change)
    assert "campaign.forms" in message
    assert expected in message


def test_a_missing_or_broken_forms_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d["campaign"].update(forms="nope.yaml"))
    with pytest.raises(ConfigError, match=r"找不到表格声明文件 .*nope\.yaml"):
        load_settings(path)
    (tmp_path / "bad.yaml").write_text("- key: [\n", encoding="utf-8")
    path = write(tmp_path, lambda d: d["campaign"].update(forms="bad.yaml"))
    with pytest.raises(ConfigError, match=r"bad.yaml：不是有效的 YAML（第"):
        load_settings(path)
    with pytest.raises(DeclarationError, match="应为一个列表"):
        parse_declarations({"key": "x"}, source=Path("f.yaml"))


def test_sheet_names_excel_accepts() -> None:
    assert sheet_name_problem("主题活动申报表") is None
    assert sheet_name_problem("提交情况")
    assert sheet_name_problem("a:b")
    assert sheet_name_problem("'x")
