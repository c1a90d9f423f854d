"""Which registered unit a submission comes from (parsers.units)."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from parsers.units import (
    FUZZY_MARGIN,
    FUZZY_THRESHOLD,
    UnitRef,
    by_address,
    by_name,
    identify,
    unit_core,
    unit_key,
)

# Yangpu's twelve 街道 plus a few other kinds of unit, as an admin would register them.
STREETS = ("定海路", "平凉路", "江浦路", "控江路", "延吉新村", "殷行", "大桥", "五角场",
           "新江湾城", "四平路", "长白新村", "长海路")
REGISTRY: tuple[UnitRef, ...] = (
    *(UnitRef(i, f"{s}街道总工会", (f"{s}街道工会",), (f"gh{i}@example.cn",))
      for i, s in enumerate(STREETS, 1)),
    UnitRef(20, "杨浦区教育工会", ("区教育工会", "教育工会"), ("jy@example.cn",)),
    UnitRef(21, "杨浦区卫生工作者协会", ("区卫协",), ()),
    UnitRef(22, "上海理工大学工会", (), ()),
    UnitRef(23, "复旦大学工会", (), ()),
)


def name_of(text: str | None, units: tuple[UnitRef, ...] = REGISTRY) -> str | None:
    match = by_name(text, units)
    return match.unit.name if match else None


@pytest.mark.parametrize(
    ("written", "unit"),
    [
        ("定海路街道总工会", "定海路街道总工会"),                 # exact
        ("定海路街道工会", "定海路街道总工会"),                   # alias / suffix
        ("上海市杨浦区定海路街道总工会", "定海路街道总工会"),     # prefixes
        ("杨浦区定海路街道工会委员会", "定海路街道总工会"),       # 工会委员会
        ("定海路街道", "定海路街道总工会"),                       # no suffix at all
        ("定 海 路 街 道 工 会", "定海路街道总工会"),             # spaces
        ("定海路街道（总工会）", "定海路街道总工会"),             # full-width brackets
        ("【定海路街道】工会", "定海路街道总工会"),
        ("定海路街道总工会（盖章）", "定海路街道总工会"),         # the stamp note
        ("\u3000定海路街道总工会\u3000", "定海路街道总工会"),     # ideographic spaces
        ("区卫协", "杨浦区卫生工作者协会"),                       # alias only
        ("教育工会", "杨浦区教育工会"),
        ("上海理工大学", "上海理工大学工会"),
        ("同济大学工会", None),                                   # not registered
        ("杨浦区总工会", None),                                   # the bot's own side
        ("工会", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_name_alias_prefix_suffix_spacing(written: str | None, unit: str | None) -> None:
    assert name_of(written) == unit


def test_method_says_how_the_unit_was_found() -> None:
    assert by_name("定海路街道总工会", REGISTRY).method == "name"  # type: ignore[union-attr]
    assert by_name("区卫协", REGISTRY).method == "alias"  # type: ignore[union-attr]
    fuzzy = by_name("定海街道工会", REGISTRY)
    assert fuzzy is not None and fuzzy.method == "fuzzy" and fuzzy.score < 100


def test_unit_key_is_the_distinctive_core() -> None:
    assert unit_key("上海市杨浦区定海路街道总工会") == "定海路街道"
    assert unit_key("杨浦区定海路街道工会委员会") == "定海路街道"
    assert unit_key("（盖章）定海路街道总工会") == "定海路街道"
    # a name that is nothing but a prefix/suffix is not stripped to nothing
    assert unit_key("杨浦区总工会") == "总工会"


def test_unit_typed_over_the_templates_underline() -> None:
    assert unit_key("__定海路街道总工会______") == "定海路街道"
    assert unit_key("＿＿定海路街道总工会＿＿") == "定海路街道"   # full-width underscores
    assert name_of("__定海路街道总工会______") == "定海路街道总工会"


# FUZZY_THRESHOLD is a ratio (rapidfuzz.fuzz.ratio, 0–100) between the distinctive
# cores (unit_key) of what was written and of a registered name. Street names are
# 2–4 characters plus 街道, so the cores are 4–6 characters long:
#
# - dropping one character from a 5-character core scores 2*4/9 = 88.9, from a
#   6-character core 2*5/11 = 90.9: the slips clerks make (定海街道, 四平街道);
# - Yangpu's neighbouring streets score 80 against each other (控江路/江浦路 share
#   江路街道), and so does a one-character *substitution* in a 5-character core
#   (定海路街到): the two cannot be told apart by the score, so both must be refused;
#   a wrong unit is worse than asking the admin;
# - a whole word missing (长白 for 长白新村, 五角场 for 五角场镇) scores 86 or less.
#
# 88 sits just below the 88.9 of a single dropped character and above everything
# a neighbour can reach. The table below is that argument, case by case.
FUZZY_CASES = [
    # (written, registered core, accepted?)
    ("定海街道", "定海路街道", True),        # 路 dropped               88.9
    ("四平街道", "四平路街道", True),        # 路 dropped               88.9
    ("江浦路街", "江浦路街道", True),        # 道 dropped               88.9
    ("延吉新村街", "延吉新村街道", True),    # 道 dropped, longer core  90.9
    ("卫生工作协会", "卫生工作者协会", True),  # 者 dropped              92.3
    ("控江路街道", "江浦路街道", False),     # the neighbouring street  80.0
    ("定海路街到", "定海路街道", False),     # substitution, same score as a neighbour
    ("新江湾城街到", "新江湾城街道", False),  # substitution             83.3
    ("五角场", "五角场镇", False),           # a whole word missing     85.7
                                             # (the kind of place: see test_core_*)
    ("长白街道", "长白新村街道", False),     # 新村 missing             80.0
    ("殷行镇", "殷行街道", False),           #                          57.1
    ("复旦", "复旦大学", False),             #                          66.7
]


@pytest.mark.parametrize(("written", "registered", "accepted"), FUZZY_CASES)
def test_fuzzy_threshold_table(written: str, registered: str, accepted: bool) -> None:
    score = fuzz.ratio(unit_key(written), unit_key(registered))
    assert (score >= FUZZY_THRESHOLD) is accepted, score
    # and by_name's fuzzy step agrees when that unit is the only candidate
    match = by_name(written, (UnitRef(1, registered + "总工会"),))
    assert (match is not None and match.method == "fuzzy") is accepted


def test_threshold_separates_every_neighbouring_street_pair() -> None:
    # No two registered streets are close enough for one to be taken for the other.
    keys = [unit_key(u.name) for u in REGISTRY]
    worst = max(fuzz.ratio(a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
    assert worst < FUZZY_THRESHOLD


def test_one_character_slip_is_accepted_against_the_full_registry() -> None:
    match = by_name("上海市杨浦区定海街道工会", REGISTRY)
    assert match is not None
    assert (match.unit.name, match.method) == ("定海路街道总工会", "fuzzy")
    assert match.score == pytest.approx(88.9, abs=0.1)
    assert name_of("控江街道") == "控江路街道总工会"


def test_close_neighbour_that_is_not_registered_is_not_taken_for_another() -> None:
    without_kongjiang = tuple(u for u in REGISTRY if not u.name.startswith("控江路"))
    assert name_of("控江路街道工会", without_kongjiang) is None    # not 江浦路
    assert name_of("江浦路街道工会", without_kongjiang) == "江浦路街道总工会"


def test_wujiaochang_street_and_town_both_registered() -> None:
    units = (*REGISTRY, UnitRef(30, "五角场镇总工会"))
    assert name_of("五角场镇工会", units) == "五角场镇总工会"
    assert name_of("五角场街道工会", units) == "五角场街道总工会"
    assert name_of("五角场工会", units) is None           # which one? ask the admin


# --- the name without 街道/镇 (its core) -------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "unit"),
    [
        ("殷行", "殷行街道总工会"),
        ("殷行工会", "殷行街道总工会"),
        ("上海市杨浦区殷行总工会", "殷行街道总工会"),
        ("殷行街道办事处工会", "殷行街道总工会"),     # the same kind, spelled longer
        ("大桥工会", "大桥街道总工会"),               # a two-character place name
        ("延吉新村工会", "延吉新村街道总工会"),
        ("五角场工会", "五角场街道总工会"),           # only the 街道 is registered here
    ],
)
def test_core_name_without_jiedao_finds_the_one_unit(written: str, unit: str) -> None:
    match = by_name(written, REGISTRY)
    assert match is not None and (match.unit.name, match.method) == (unit, "name")
    # none of these is within the fuzzy threshold: the core rule is what finds them
    assert fuzz.ratio(unit_key(written), unit_key(unit)) < FUZZY_THRESHOLD


@pytest.mark.parametrize(
    "written",
    [
        "殷行镇工会",      # another kind of place: 殷行镇 is not 殷行街道
        "新村",            # part of 延吉新村 and 长白新村
        "长白工会",        # part of 长白新村: a place name is matched whole
        "江",              # one character names no place
        "江浦",            # part of 江浦路
        "路街道",
    ],
)
def test_core_of_another_kind_or_a_fragment_is_not_matched(written: str) -> None:
    assert name_of(written) is None


def test_two_units_sharing_a_core_give_none_and_no_fuzzy_guess() -> None:
    units = (*REGISTRY, UnitRef(30, "五角场镇总工会"))
    assert name_of("五角场", units) is None
    # with a longer core the fuzzy step alone would pick the shorter name, wrongly:
    pair = (UnitRef(1, "新江湾城街道总工会"), UnitRef(2, "新江湾城镇总工会"))
    assert fuzz.ratio("新江湾城", "新江湾城镇") >= FUZZY_THRESHOLD
    assert fuzz.ratio("新江湾城", "新江湾城镇") - fuzz.ratio("新江湾城", "新江湾城街道") \
        >= FUZZY_MARGIN
    assert name_of("新江湾城工会", pair) is None
    # yet each is found when its kind is written
    assert name_of("新江湾城镇工会", pair) == "新江湾城镇总工会"
    assert name_of("新江湾城街道工会", pair) == "新江湾城街道总工会"


def test_core_counts_a_unit_once_across_its_name_and_aliases() -> None:
    units = (UnitRef(1, "殷行街道总工会", ("殷行街道工会", "殷行街道办事处工会")),
             UnitRef(2, "控江路街道总工会"))
    match = by_name("殷行工会", units)
    assert match is not None and match.unit.id == 1


def test_core_shared_through_an_alias_is_ambiguous() -> None:
    units = (UnitRef(1, "殷行街道总工会"), UnitRef(2, "某社区工会", ("殷行社区",)))
    assert by_name("殷行", units) is None
    assert name_of("殷行街道", units) == "殷行街道总工会"


def test_unit_core_splits_the_kind_of_place() -> None:
    assert unit_core("殷行街道") == ("殷行", "街道")
    assert unit_core("殷行街道办事处") == ("殷行", "街道")
    assert unit_core("五角场镇") == ("五角场", "镇")
    assert unit_core("殷行") == ("殷行", None)
    assert unit_core("镇") == ("镇", None)              # nothing left: not split


def test_tie_between_two_fuzzy_candidates_gives_none() -> None:
    units = (UnitRef(1, "定海路街道总工会"), UnitRef(2, "定海桥街道总工会"))
    assert fuzz.ratio("定海街道", "定海路街道") == fuzz.ratio("定海街道", "定海桥街道")
    assert by_name("定海街道", units) is None


def test_runner_up_within_margin_gives_none() -> None:
    # 88.9 vs 85.7: above the threshold, but not FUZZY_MARGIN ahead of the next.
    units = (UnitRef(1, "江浦路街道总工会"), UnitRef(2, "江浦街总工会"))
    best = fuzz.ratio("江浦街道", "江浦路街道")
    second = fuzz.ratio("江浦街道", "江浦街")
    assert best >= FUZZY_THRESHOLD and best - second < FUZZY_MARGIN
    assert by_name("江浦街道", units) is None


def test_two_units_answering_to_the_same_name_give_none() -> None:
    units = (UnitRef(1, "杨浦区教育工会"), UnitRef(2, "教育工会委员会"))
    assert by_name("教育工会", units) is None
    units = (UnitRef(1, "甲单位", ("区卫协",)), UnitRef(2, "乙单位", ("区卫协",)))
    assert by_name("区卫协", units) is None


def test_name_beats_someone_elses_alias() -> None:
    units = (UnitRef(1, "控江路街道总工会"), UnitRef(2, "某单位", ("控江路街道",)))
    match = by_name("控江路街道", units)
    assert match is not None and match.unit.id == 1


# --- by address ----------------------------------------------------------------------------


def test_address_match_is_case_insensitive_and_beats_the_name() -> None:
    match = identify(" GH1@Example.CN ", "殷行街道工会", REGISTRY)
    assert match is not None
    assert (match.unit.name, match.method) == ("定海路街道总工会", "address")


def test_unknown_address_falls_back_to_the_name() -> None:
    match = identify("zhouhong1975@163.example", "控江路街道工会", REGISTRY)
    assert match is not None
    assert (match.unit.name, match.method) == ("控江路街道总工会", "name")


def test_address_registered_to_two_units_falls_back_to_the_name() -> None:
    units = (UnitRef(1, "控江路街道总工会", (), ("shared@example.cn",)),
             UnitRef(2, "江浦路街道总工会", (), ("shared@example.cn",)))
    assert by_address("shared@example.cn", units) is None
    match = identify("shared@example.cn", "江浦路街道工会", units)
    assert match is not None and (match.unit.id, match.method) == (2, "name")
    assert identify("shared@example.cn", None, units) is None


def test_nothing_to_go_on() -> None:
    assert identify("", None, REGISTRY) is None
    assert identify("stranger@example.org", "某某公司工会", REGISTRY) is None
    assert identify("gh1@example.cn", None, ()) is None
