"""A field's kind → how its cell is read (CONTRACT.md, `campaign.forms`).

`read_value(field, text)` is the one entry point: the normalised value and, when the
text cannot be read as the kind asks, a problem sentence in Chinese. `check(field,
text)` adds what the declaration demands of any kind (required, max_len). Pure, and
never raises on odd input. Personal data (`idcard`, `phone`) is never quoted in a
problem: problems reach logs and digests, not only the unit's own receipt.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .specs import FieldSpec
from .values import clean_text, parse_count, parse_date, parse_leader, text_length

Reading = tuple[object, str | None]


def read_value(spec_field: FieldSpec, raw: object) -> Reading:
    """`raw` as `spec_field.kind` reads it → (value, problem or None). A leader's value is
    a `Leader`; an empty cell is (None, None): whether it may be empty is `check`'s."""
    kind = spec_field.kind
    if kind == "count":
        return parse_count(raw)
    if kind == "date":
        return parse_date(raw)
    if kind == "leader":
        return parse_leader(raw)
    if kind == "number":
        return parse_number(raw)
    if kind == "money":
        return parse_money(raw, spec_field.unit or "元")
    if kind == "phone":
        return parse_phone_number(raw)
    if kind == "idcard":
        return parse_idcard(raw)
    if kind == "choice":
        return parse_choice(raw, spec_field.options)
    if kind == "yesno":
        return parse_yesno(raw)
    # text: as the cell reader gave it (already cleaned); kept whole, line breaks and all
    return (raw if isinstance(raw, str) else clean_text(raw)) or None, None


def check(spec_field: FieldSpec, text: str) -> list[str]:
    """The declaration's demands on a cell's text, whatever its kind."""
    problems = []
    if spec_field.required and not text:
        problems.append("未填写")
    if spec_field.max_len and text and text_length(text) > spec_field.max_len:
        problems.append(f"超过{spec_field.max_len}字（{text_length(text)}字），已完整保留")
    return problems


# --- numbers ----------------------------------------------------------------------------

_CN = "零〇一二两三四五六七八九十百千万亿点壹贰叁肆伍陆柒捌玖拾佰仟"
_NOTE = re.compile(r"[（(][^（）()]*[）)]")
_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:[,，]\d{3})+|\d+)(?:\.\d+)?")
_NUMERAL = re.compile(rf"[{_CN}]+")
_APPROX = re.compile(r"^(?:约|大约|共|合计|共计|总计|计)")


def _decimal(figure: str) -> Decimal | None:
    """`1,200.5` → 1200.5, `三点五` → 3.5, `1.2万` → 12000, `壹万贰仟` → 12000."""
    if _DECIMAL.fullmatch(figure):
        return Decimal(figure.replace(",", "").replace("，", ""))
    import cn2an  # deferred: 80 ms of start-up most commands never need

    try:
        return Decimal(str(cn2an.cn2an(figure.replace("两", "二"), "smart")))
    except (ValueError, KeyError, InvalidOperation, TypeError):
        return None


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _figure(raw: object, what: str) -> tuple[Reading | None, str, str]:
    """The first steps of reading a figure: a yes/no cell is no figure, a number cell is
    taken as it is, an empty cell is no value (each a finished reading); else the text
    as written and its core without notes, "约" and spaces."""
    if isinstance(raw, bool):
        return (None, f"不是{what}"), "", ""
    if isinstance(raw, int | float):
        return (_plain(Decimal(str(raw))), None), "", ""
    text = clean_text(raw).replace("\n", "")
    if not text:
        return (None, None), "", ""
    return None, text, _APPROX.sub("", _NOTE.sub("", text).replace(" ", ""))


def parse_number(raw: object) -> Reading:
    """Decimals as written: `3.5`, `三点五`, `约3.5`, `3.5小时` → 3.5 (a whole number stays
    whole). Two figures or a range give no number and a problem."""
    done, text, core = _figure(raw, "数字")
    if done is not None:
        return done
    match = re.fullmatch(rf"([+-]?[\d.,，]+|[{_CN}]+)[\u4e00-\u9fff%％/a-zA-Z²³]*", core)
    value = _decimal(match.group(1)) if match else None
    if value is None:
        return None, f"无法识别数字“{text}”"
    return _plain(value), None


_MONEY_UNITS = {"元": Decimal(1), "块": Decimal(1), "万元": Decimal(10000),
                "万": Decimal(10000), "千元": Decimal(1000), "百元": Decimal(100)}
_MONEY = re.compile(
    r"^(?:人民币|RMB|CNY|[¥￥])?\s*(?P<figure>[\d.,，]+|[" + _CN + r"]+)\s*"
    r"(?P<unit>万元|千元|百元|万|元|块)?(?:整|正)?(?:人民币)?$", re.IGNORECASE)


def parse_money(raw: object, unit: str = "元") -> Reading:
    """An amount as written → a number in `unit` (元 or 万元): `1.2万元`, `12,000元`,
    `壹万贰仟元整`, `￥12000.00`. A bare figure is taken in the declared unit, as the
    column's own header says (经费（万元）)."""
    scale = _MONEY_UNITS["万元" if unit == "万元" else "元"]
    done, text, core = _figure(raw, "金额")
    if done is not None:
        return done
    match = _MONEY.match(core)
    value = _decimal(match.group("figure")) if match else None
    if match and value is not None and re.search(r"[万千百]", match.group("figure")) \
            and match.group("unit") in ("万", "万元"):
        value = None   # `1万2千万元`: a figure and a unit that both scale; not guessed
    if value is None:
        return None, f"无法识别金额“{text}”"
    if match.group("unit"):
        value = value * _MONEY_UNITS[match.group("unit")] / scale
    return _plain(value.quantize(Decimal("0.000001")).normalize()), None


# --- personal data ------------------------------------------------------------------------

_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
# Area codes: 010 and 02X are three digits, the rest four (0571, 0755).
_AREA = r"0[12]\d|0[3-9]\d{2}"
_FIXED = re.compile(rf"^(?:\(?({_AREA})\)?)?([2-9]\d{{6,7}})(?:(?:转|ext|x|#)(\d{{1,6}}))?$",
                    re.IGNORECASE)
_PHONE_SPLIT = re.compile(r"[/／、,，;；]|\s{2,}|或")


def _one_phone(text: str) -> str | None:
    compact = re.sub(r"[\s\-－—()（）]", "", text)
    compact = re.sub(r"^(?:\+?86)(?=0?\d)", "", compact) if compact.startswith(("+86", "86")) \
        and len(compact) > 11 else compact
    if (mobile := _MOBILE.match(compact)):
        return mobile.group(1)
    grouped = re.sub(r"\s+", "", text)
    # `021-25032216`, `(021)25032216`, `25032216`, `021 2503 2216 转 801`
    area = re.match(rf"^[(（]?({_AREA})[)）]?[-－—\s]*(.*)$", grouped)
    if area:
        number = re.sub(r"[-－—]", "", area.group(2))
        fixed = _FIXED.match(area.group(1) + number)
    else:
        fixed = _FIXED.match(re.sub(r"[-－—]", "", grouped))
    if not fixed:
        return None
    code, number, extension = fixed.groups()
    return (f"{code}-" if code else "") + number + (f"转{extension}" if extension else "")


def parse_phone_number(raw: object) -> Reading:
    """Mobile and fixed-line numbers, with or without area code or spaces: `138 1234 5678`
    → 13812345678, `021-25032216`, `(021)25032216` → 021-25032216, `25032216`. Several
    numbers in one cell are kept, joined by `、`."""
    text = clean_text(raw if not isinstance(raw, int | float) else str(int(raw)))
    text = text.replace("\n", " ")
    if not text:
        return None, None
    text = re.sub(r"^(?:电话|手机|座机|联系电话)\s*[:：]?", "", text)
    numbers = [_one_phone(part.strip()) for part in _PHONE_SPLIT.split(text) if part.strip()]
    if not numbers or None in numbers:
        return None, "电话号码无法识别，请填写手机号或座机号（可带区号）"
    return "、".join(n for n in numbers if n), None


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def idcard_checksum(first17: str) -> str:
    """The 18th character of a resident ID (GB 11643, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def parse_idcard(raw: object) -> Reading:
    """An 18-character resident ID, spaces dropped and `x` made `X`; the checksum and the
    birth date in it are verified. A wrong one is kept (for the admin to see) and flagged."""
    import datetime as dt

    written = clean_text(raw)
    if not written:
        return None, None
    text = re.sub(r"[\s\-]", "", written).upper()
    if not re.fullmatch(r"\d{17}[\dX]", text):
        if re.fullmatch(r"\d{15}", text):
            return text, "身份证号是旧的15位号码，请填写18位身份证号"
        return text, f"身份证号应为18位（17位数字加1位数字或X），现在是{len(text)}位"
    try:
        dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return text, "身份证号中的出生日期不存在，请核对"
    if idcard_checksum(text[:17]) != text[17]:
        return text, "身份证号校验位不对，可能抄错了一位，请核对"
    return text, None


# --- choices ----------------------------------------------------------------------------

def _fold(text: str) -> str:
    return re.sub(r"[\s（）()【】\[\]·、，,。.]", "", text).lower()


def parse_choice(raw: object, options: tuple[str, ...]) -> Reading:
    """One of `options`; close spellings are accepted (`男性` → 男, `中共党员` →
    党员 when that alone fits, a typo in a longer option), never a guess between two."""
    text = clean_text(raw).replace("\n", " ")
    if not text:
        return None, None
    folded = _fold(text)
    exact = [o for o in options if _fold(o) == folded]
    if exact:
        return exact[0], None
    within = [o for o in options if _fold(o) and (_fold(o) in folded or folded in _fold(o))]
    if len(within) == 1:
        return within[0], None
    from rapidfuzz import fuzz, process

    scored = process.extract(folded, {o: _fold(o) for o in options}, scorer=fuzz.ratio,
                             limit=2, score_cutoff=75)
    if len(scored) == 1 or (len(scored) == 2 and scored[0][1] - scored[1][1] >= 10):
        return scored[0][2], None
    return None, f"“{text}”不是可选的值（可选：{'、'.join(options)}）"


_YES = {"是", "有", "√", "✓", "✔", "y", "yes", "对", "是的", "已", "1", "true"}
_NO = {"否", "无", "×", "✗", "✘", "x", "n", "no", "不是", "没有", "非", "未", "0", "false"}


def parse_yesno(raw: object) -> Reading:
    """是/否, 有/无, √/×, Y/N (and yes/no, 不是, 没有) → 是 or 否."""
    if isinstance(raw, bool):
        return ("是" if raw else "否"), None
    text = clean_text(raw).replace("\n", "")
    if not text:
        return None, None
    text = text.strip("。.") or text
    folded = text.replace(" ", "").lower()
    if folded in _YES:
        return "是", None
    if folded in _NO:
        return "否", None
    return None, f"“{text}”应填写“是”或“否”"
