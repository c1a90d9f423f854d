"""Which form a table is, from its header row(s): each column mapped to a field of the
form's spec by its header text (aliases, line breaks, `（100字内）` suffixes, a header split
over two rows). Pure, like forms.py, which reads the rows under the header found here."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

from parsers.builtin import builtin_forms
from parsers.specs import FieldSpec, FormSpec

from .tables import Line
from .values import clean_text

_PAREN = re.compile(r"[（(][^）)]*[）)]")
_NOISE = re.compile(r"[\s:：*＊]")


@lru_cache(maxsize=8192)
def _norm_header(text: str) -> str:
    # Cached: every row of every table is tried as a header, and cells repeat a lot.
    return _NOISE.sub("", _PAREN.sub("", clean_text(text)))


@cache
def _spec_names(spec: FormSpec) -> tuple[tuple[FieldSpec, tuple[str, ...]], ...]:
    return tuple((f, tuple(_norm_header(n) for n in (f.label, *f.aliases, *_part_names(f))))
                 for f in spec.fields)


def _part_names(spec_field: FieldSpec) -> tuple[str, ...]:
    return tuple(name for _, names in spec_field.parts for name in names)


@lru_cache(maxsize=1024)
def _part_only(header: str, spec_field: FieldSpec) -> bool:
    """A header that names a part of the field but never the whole (职务 beside 负责人姓名)."""
    norm = _norm_header(header)
    return (norm in (_norm_header(n) for n in _part_names(spec_field))
            and norm not in (_norm_header(n) for n in (spec_field.label, *spec_field.aliases)))


@lru_cache(maxsize=8192)
def _match_field(header: str, spec: FormSpec) -> FieldSpec | None:
    norm = _norm_header(header)
    if not norm:
        return None
    for candidate, names in _spec_names(spec):
        if norm in names:
            return candidate
    # A header with extra words around the label ("本次活动名称") still counts;
    # short aliases are left out so "人数" does not claim "服务队人数" twice.
    for candidate, names in _spec_names(spec):
        if any(len(name) >= 4 and name in norm for name in names):
            return candidate
    return None


@dataclass(frozen=True)
class Header:
    spec: FormSpec
    columns: dict[int, FieldSpec]
    unknown: dict[int, str]
    score: int
    parts: dict[int, str] = field(default_factory=dict)  # column → part of a split leader
    rows: int = 1                                         # 2: the header fills two rows


# Per column, the header texts to try in order (the first that names a field wins).
Labels = list[tuple[str, ...]]


@lru_cache(maxsize=8192)
def _part_of(header: str, spec_field: FieldSpec) -> str | None:
    norm = _norm_header(header)
    return next((part for part, names in spec_field.parts
                 if norm in (_norm_header(n) for n in names)), None)


def _map_columns(spec: FormSpec, labels: Labels) -> tuple[dict[int, FieldSpec], dict[int, str],
                                                          dict[int, str], dict[int, int]]:
    """Columns → fields, their parts, the columns no field claims, and which of each
    column's labels matched."""
    columns: dict[int, FieldSpec] = {}
    parts: dict[int, str] = {}
    part_only: dict[int, str] = {}
    unknown: dict[int, str] = {}
    via: dict[int, int] = {}
    for index, candidates in enumerate(labels):
        for rank, text in enumerate(candidates):
            matched = _match_field(text, spec)
            part = _part_of(text, matched) if matched else None
            claimed = [i for i, f in columns.items() if f is matched]
            # a field once; a split field once per part
            if matched and (not claimed or (part and all(
                    parts.get(i) not in (None, part) for i in claimed))):
                columns[index], via[index] = matched, rank
                if part:
                    parts[index] = part
                if _part_only(text, matched):
                    part_only[index] = text
                break
        else:
            if candidates:
                unknown[index] = candidates[0]
    return columns, _whole_parts(columns, parts, unknown, part_only), unknown, via


def _whole_parts(columns: dict[int, FieldSpec], parts: dict[int, str],
                 unknown: dict[int, str], part_only: dict[int, str]) -> dict[int, str]:
    """Parts count only when every part of the field has its column; `负责人姓名` alone
    is the whole leader, as clerks use it. A lone second column goes back to unknown, and
    so does a lone part-only column (`职务` with no name column beside it)."""
    kept: dict[int, str] = {}
    for spec_field in {f for f in columns.values() if f.parts}:
        indexes = [i for i, f in columns.items() if f is spec_field]
        found = {parts.get(i) for i in indexes}
        if found == {p for p, _ in spec_field.parts} and len(indexes) == len(found):
            kept.update((i, parts[i]) for i in indexes)
            continue
        for position, extra in enumerate(indexes):
            if position or extra in part_only:
                unknown[extra] = part_only.get(extra, spec_field.label)
                del columns[extra]
    return kept


def _spanned_parts(columns: dict[int, FieldSpec], parts: dict[int, str],
                   joined: tuple[bool, ...]) -> None:
    """`负责人姓名及职务` merged over two columns (nothing below to tell them apart):
    the clerk writes the name in the first and the title in the second."""
    for index, spec_field in list(columns.items()):
        names = [p for p, _ in spec_field.parts]
        span = index + 1
        if (len(names) == 2 and index not in parts and span < len(joined) and joined[span]
                and span not in columns and not (span + 1 < len(joined) and joined[span + 1])):
            columns[span] = spec_field
            parts[index], parts[span] = names


# Which forms the title above a table names, by the length of the longest name found
# (`个人推荐表` beats `推荐表`): asked only when two forms' headers fit a table equally.
Titled = Callable[[], dict[str, int]]


def _untitled() -> dict[str, int]:
    return {}


def _header_from(labels: Labels, joined: tuple[bool, ...] = (), rows: int = 1,
                 forms: Sequence[FormSpec] = (), titled: Titled = _untitled,
                 ) -> tuple[Header | None, dict[int, int]]:
    """The form whose header these labels are, if at least most of its columns are there
    (and, for the caller, which label matched in each column). Forms with similar headers
    are told apart by the most columns named, then the title above the table, then the
    fewest of the form's fields missing, then the order declared."""
    best: Header | None = None
    best_via: dict[int, int] = {}
    best_rank: tuple[int, int, int] = (0, 0, 0)
    for spec in forms:
        columns, parts, unknown, via = _map_columns(spec, labels)
        score = len({f.key for f in columns.values() if f.kind != "seq"})
        # Most of its columns, at least three; a form of fewer fields needs them all.
        needed = min(len(spec.data_fields), max(3, (len(spec.data_fields) + 1) // 2))
        if score < needed or score <= len(unknown) or (best and score < best.score):
            continue
        rank = (score, 0, score - len(spec.data_fields))
        if best is not None:
            named = titled()
            rank, best_rank = (rank[0], named.get(spec.key, 0), rank[2]), \
                (best_rank[0], named.get(best.spec.key, 0), best_rank[2])
            if rank <= best_rank:
                continue
        _spanned_parts(columns, parts, joined)
        best, best_via, best_rank = Header(spec, columns, unknown, score, parts, rows), via, rank
    return best, best_via


def _header_for(line: Line, forms: Sequence[FormSpec], titled: Titled = _untitled, *,
                spans: bool = True) -> Header | None:
    """The form whose header this line is (`spans`: a leader merged over two columns
    takes both)."""
    if line.table is None or len([c for c in line.cells if c]) < 3:
        return None
    return _header_from([(c,) if c else () for c in line.cells],
                        line.joined if spans else (), 1, forms, titled)[0]


def _cell(line: Line, index: int) -> str:
    return line.cells[index] if index < len(line.cells) else ""


def _stacked(top: Line, bottom: Line) -> tuple[Labels, set[int]]:
    """A header over two rows read column by column: the upper text (a merged cell
    spreads over the columns it spans) with the lower one after it, or the lower alone
    under a group title, or the upper alone. Also the columns whose lower text is new
    (a vertically merged cell repeats the upper text, or leaves nothing)."""
    labels: Labels = []
    below: set[int] = set()
    above = ""
    for index in range(max(len(top.cells), len(bottom.cells))):
        upper, lower = _cell(top, index), _cell(bottom, index)
        if index < len(top.joined) and top.joined[index]:
            upper = above
        above = upper
        if not lower or lower == upper:
            labels.append((upper,) if upper else ())
        else:
            below.add(index)
            labels.append((upper + lower, lower, upper) if upper else (lower,))
    return labels, below


def _two_row_header(top: Line, bottom: Line, forms: Sequence[FormSpec],
                    titled: Titled = _untitled) -> Header | None:
    """The header when it is split over `top` and `bottom` (负责人 above 姓名 | 职务).

    Taken only when reading the rows together names more columns than either row alone
    and every new text in the lower row is a header word: a header above its first data
    row never qualifies, as data does not name fields."""
    # A title or `填报单位` row merged across the table is no upper half of a header.
    if top.table is None or bottom.table != top.table or len(set(top.cells) - {""}) < 3:
        return None
    labels, below = _stacked(top, bottom)
    # Cheap first: every new lower text must name a field (with the upper one or alone).
    # Two data rows fail on their first cell, and this runs for every pair of rows.
    if not below or not all(any(_match_field(text, spec) for text in labels[i][:2]
                                for spec in forms) for i in sorted(below)):
        return None
    header, via = _header_from(labels, top.joined, 2, forms, titled)
    # labels[i] is (upper + lower, lower, upper) or (lower,): rank 2 ignores the lower text
    if header is None or any(i not in via or via[i] == 2 for i in below):
        return None
    # Compare with what each row's own words name (a merge spreading the upper text would
    # make `负责人` over `姓名 | 职务` look like a leader spanning two columns). The lower
    # row alone may name as many when the merges above were copied down into it.
    upper, lower = (len(h.columns) if h else 0 for h in (
        _header_for(top, forms, titled, spans=False),
        _header_for(bottom, forms, titled, spans=False)))
    return header if len(header.columns) > upper and len(header.columns) >= lower else None


def _title_above(lines: list[Line], index: int, forms: Sequence[FormSpec]) -> Titled:
    """Which forms the few lines above `index` name (附件2 / 杨浦职工志愿者服务队登记表 /
    填报单位：), looked at only when asked: paragraphs and the table's own rows above it
    (a sheet's merged title row), not another table."""
    @cache
    def named() -> dict[str, int]:
        texts: list[str] = []
        at = index - 1
        while at >= 0 and len(texts) < 6 and lines[at].table in (None, lines[index].table):
            if not lines[at].is_empty:
                texts.append(lines[at].text)
            at -= 1
        above = _NOISE.sub("", " ".join(texts))
        found: dict[str, int] = {}
        for spec in forms:
            for name in spec.names:
                word = _NOISE.sub("", name)
                if word and re.search(re.escape(word) + (r"(?!\d)" if word[-1].isdigit() else ""),
                                      above):
                    found[spec.key] = max(found.get(spec.key, 0), len(word))
        return found

    return named


def find_headers(lines: list[Line],
                 forms: Sequence[FormSpec] | None = None) -> list[tuple[int, Header]]:
    """Each form header in `lines`, with its line index; `forms` are the campaign's
    declarations (default: the built-in forms of 杨工〔2018〕14号)."""
    forms = builtin_forms() if forms is None else tuple(forms)
    found: list[tuple[int, Header]] = []
    index = 0
    while index < len(lines):
        titled = _title_above(lines, index, forms)
        header = (_two_row_header(lines[index], lines[index + 1], forms, titled)
                  if index + 1 < len(lines) else None) or _header_for(lines[index], forms, titled)
        if header:
            found.append((index, header))
        index += header.rows if header else 1
    return found
