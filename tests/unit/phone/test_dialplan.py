"""The dial plan: digit-map parsing, matching, rewriting, speed dials."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.phone.dialplan import (
    MAX_DIGITS,
    DialPlan,
    DialPlanError,
    Match,
    call_target,
    check_speed_dials,
    classify,
    hash_ends_dialling,
    is_uri,
    remote_target,
)

EXAMPLE_PLAN = [
    "911",
    "112",
    "1xxx",
    "<:+1>[2-9]xxxxxxxxx",
    "<0:+49>[1-9]x.",
    "00x.",
    "+x.",
]


def plan(*patterns: str) -> DialPlan:
    return DialPlan.parse(list(patterns))


# --------------------------------------------------------------------------- parsing


def test_parse_keeps_every_pattern_in_order() -> None:
    parsed = DialPlan.parse(EXAMPLE_PLAN)
    assert [pattern.text for pattern in parsed.patterns] == EXAMPLE_PLAN
    assert not parsed.is_empty


def test_empty_plan() -> None:
    empty = DialPlan.parse([])
    assert empty.is_empty
    assert empty == DialPlan()


@pytest.mark.parametrize(
    ("pattern", "position", "reason"),
    [
        ("", 0, "empty pattern"),
        ("[", 0, "'[' without ']'"),
        ("12[34", 2, "'[' without ']'"),
        ("[]", 0, "empty set"),
        ("[9-1]", 1, "empty range"),
        ("[1-]", 2, "upper digit"),
        ("[*-9]", 1, "digit to digit"),
        ("[a]", 1, "in a [set]"),
        (".", 0, "'.' must follow"),
        ("1..", 2, "'.' must follow"),
        ("<0:+49>.", 7, "'.' must follow"),
        ("<.:1>2", 1, "'.' must follow"),
        ("1<2", 1, "'<' without ':'"),
        ("<1:2", 0, "'<' without '>'"),
        ("<:>1", 0, "rewrites nothing"),
        ("<1<2:3>:4>", 2, "do not nest"),
        ("<1:a>2", 3, "in a replacement"),
        ("1>2", 1, "outside a <from:to>"),
        ("1:2", 1, "outside a <from:to>"),
        ("a1", 0, "unexpected character 'a'"),
        ("1 2", 1, "unexpected character ' '"),
        ("<:+1>", 0, "matches no key"),
    ],
)
def test_invalid_patterns_name_pattern_and_position(
    pattern: str, position: int, reason: str
) -> None:
    with pytest.raises(DialPlanError) as caught:
        DialPlan.parse(["911", pattern])
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.pattern == pattern
    assert error.position == position
    assert reason in error.reason
    assert repr(pattern) in str(error) and f"position {position}" in str(error)


def test_parse_wants_a_list_not_a_string() -> None:
    with pytest.raises(TypeError):
        DialPlan.parse("911")


def test_uppercase_x_is_any_digit() -> None:
    assert plan("1XX").match("123") is Match.COMPLETE


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("9", Match.PARTIAL),  # 911, or a ten-digit number starting 9
        ("911", Match.COMPLETE),  # a closed match wins over the longer pattern
        ("112", Match.COMPLETE),
        ("1", Match.PARTIAL),
        ("100", Match.PARTIAL),
        ("1002", Match.COMPLETE),
        ("10023", Match.NO_MATCH),
        ("212555123", Match.PARTIAL),
        ("2125551234", Match.COMPLETE),
        ("21255512345", Match.NO_MATCH),
        ("0", Match.PARTIAL),
        ("03", Match.PARTIAL),  # matches <0:+49>[1-9]x. exactly, but could take more
        ("0301234", Match.PARTIAL),
        ("00", Match.PARTIAL),  # 00x. with zero repeats, or more
        ("0049301234", Match.PARTIAL),
        ("+", Match.PARTIAL),
        ("+49301234", Match.PARTIAL),
        ("*", Match.NO_MATCH),
        ("#", Match.NO_MATCH),
        ("1*", Match.NO_MATCH),  # x is a digit, not * or #
        ("", Match.PARTIAL),
    ],
)
def test_match_against_the_example_plan(digits: str, expected: Match) -> None:
    assert DialPlan.parse(EXAMPLE_PLAN).match(digits) is expected


def test_empty_plan_allows_anything() -> None:
    empty = DialPlan()
    for digits in ("", "1", "*31#", "0049301234567"):
        assert empty.match(digits) is Match.PARTIAL
        assert empty.accepts(digits)
        assert empty.rewrite(digits) == digits


@pytest.mark.parametrize(
    ("pattern", "accepted", "refused"),
    [
        ("[135]", ["1", "3", "5"], ["2", "4", "0"]),
        ("[1-5]", ["1", "3", "5"], ["0", "6"]),
        ("[2-9]", ["2", "9"], ["0", "1"]),
        ("[13-5#]", ["1", "3", "4", "5", "#"], ["2", "6", "*"]),
        ("*[0-9]x", ["*12", "*99"], ["*1", "12"]),
        ("#31#x.", ["#31#", "#31#123"], ["#31", "31#"]),
    ],
)
def test_sets(pattern: str, accepted: list[str], refused: list[str]) -> None:
    parsed = plan(pattern)
    for digits in accepted:
        assert parsed.accepts(digits), digits
    for digits in refused:
        assert not parsed.accepts(digits), digits


def test_accepts_is_a_whole_number() -> None:
    parsed = DialPlan.parse(EXAMPLE_PLAN)
    assert parsed.accepts("0301234")
    assert parsed.accepts("00")
    assert not parsed.accepts("100")
    assert not parsed.accepts("0")


# --------------------------------------------------------------------------- rewriting


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("2125551234", "+12125551234"),
        ("0301234567", "+49301234567"),
        ("911", "911"),
        ("1002", "1002"),
        ("0049301234", "0049301234"),
        ("100", "100"),  # no full match: unchanged
        ("42", "42"),
    ],
)
def test_rewrite_with_the_example_plan(digits: str, expected: str) -> None:
    assert DialPlan.parse(EXAMPLE_PLAN).rewrite(digits) == expected


def test_rewrite_strips_inserts_and_replaces_in_the_middle() -> None:
    assert plan("<9:>x.").rewrite("95551234") == "5551234"
    assert plan("1<23:45>6").rewrite("1236") == "1456"
    assert plan("<xx:>x").rewrite("123") == "3"
    assert plan("<00:+>x.").rewrite("004930") == "+4930"
    assert plan("x.<:#>").rewrite("123") == "123#"


def test_rewrite_uses_the_first_full_match_in_list_order() -> None:
    ordered = plan("<0:+49>x.", "<0:+43>x.")
    assert ordered.rewrite("0301") == "+49301"
    reversed_plan = plan("<0:+43>x.", "<0:+49>x.")
    assert reversed_plan.rewrite("0301") == "+43301"


def test_rewrite_groups_with_repeats_are_greedy_but_leave_what_the_rest_needs() -> None:
    # x. inside the group takes all it can while the trailing x still gets its digit.
    assert plan("<x.:>x").rewrite("98765") == "5"


# --------------------------------------------------------------------------- dialling helpers


def test_classify_adds_speed_dials_feature_codes_and_the_length_cap() -> None:
    numbers = plan("1xxx")
    assert classify("*", numbers, {}) is Match.PARTIAL  # *78 / *79
    assert classify("*7", numbers, {}) is Match.PARTIAL
    assert classify("*5", numbers, {}) is Match.NO_MATCH
    assert classify("*2", numbers, {"*2": "100"}) is Match.PARTIAL
    assert classify("5", numbers, {"5": "100"}) is Match.PARTIAL
    assert classify("1002", numbers, {}) is Match.COMPLETE
    assert classify("1" * MAX_DIGITS, DialPlan(), {}) is Match.PARTIAL
    assert classify("1" * (MAX_DIGITS + 1), DialPlan(), {}) is Match.NO_MATCH


def test_hash_ends_dialling() -> None:
    empty = DialPlan()
    assert not hash_ends_dialling("", empty, {})  # "#" first is a key
    assert hash_ends_dialling("1234", empty, {})
    assert hash_ends_dialling("1", plan("1xxx"), {})
    assert not hash_ends_dialling("#31", plan("#31#x."), {})  # the plan continues with #
    assert not hash_ends_dialling("1", plan("1xxx"), {"1#": "200"})  # so does a speed dial


def test_call_target_speed_dial_then_rewrite() -> None:
    national = plan("<0:+49>[1-9]x.", "1xxx")
    dials = {"1": "0301234567", "*2": "sip:bob@example.org", "3": "+4930999", "4": "tel:+1555"}
    assert call_target("1", national, dials) == "+49301234567"
    assert call_target("*2", national, dials) == "sip:bob@example.org"
    assert call_target("3", national, dials) == "+4930999"  # no pattern matches: unchanged
    assert call_target("4", national, dials) == "tel:+1555"
    assert call_target("1002", national, dials) == "1002"
    assert call_target("030", national, dials) == "+4930"
    assert call_target("100", national, dials) is None  # a prefix only
    assert call_target("5", national, dials) is None
    assert call_target("5", DialPlan(), {}) == "5"


def test_remote_target_is_not_refused_by_the_plan() -> None:
    national = plan("<0:+49>[1-9]x.")
    assert remote_target("0301", national, {}) == "+49301"
    assert remote_target("555", national, {}) == "555"
    assert remote_target("*2", national, {"*2": "0301"}) == "+49301"
    assert remote_target("sips:alice@example.org", national, {}) == "sips:alice@example.org"


def test_is_uri() -> None:
    assert is_uri("sip:1002@pbx") and is_uri("SIPS:a@b") and is_uri("tel:+4930")
    assert not is_uri("+4930") and not is_uri("1002") and not is_uri("sipx:1")


@pytest.mark.parametrize(
    "speed_dials",
    [
        {"": "100"},
        {"123456789": "100"},
        {"a": "100"},
        {"1": ""},
        {"1": "bob"},
        {"1": "http://example.org"},
        {"1": "sip:"},
        {"1": "1" * 33},
        {"1": "++49"},
    ],
)
def test_check_speed_dials_rejects(speed_dials: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="speed dial"):
        check_speed_dials(speed_dials)


def test_check_speed_dials_accepts() -> None:
    check_speed_dials(
        {"1": "100", "*2": "+4930123", "#9": "sip:a@b", "12345678": "tel:+1", "0": "*97"}
    )


# --------------------------------------------------------------------------- properties

_ELEMENT_CHOICES = ["0", "1", "2", "9", "*", "#", "+", "x", "[1-5]", "[135]", "[2-9#]"]


def _regex_of(pattern: str) -> str:
    """The pattern's language as a regular expression (rewrites ignored)."""
    out = []
    for token in re.findall(r"\[[^\]]*\]\.?|<|:[^>]*>|[^<\[]\.?", pattern):
        if token == "<" or token.startswith(":"):
            continue
        repeat = token.endswith(".")
        body = token[:-1] if repeat else token
        if body in ("x", "X"):
            cls = "[0-9]"
        elif body.startswith("["):
            cls = "[" + body[1:-1].replace("#", r"\#") + "]"
        else:
            cls = re.escape(body)
        out.append(cls + ("*" if repeat else ""))
    return "".join(out)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    items = draw(
        st.lists(
            st.tuples(st.sampled_from(_ELEMENT_CHOICES), st.booleans()), min_size=1, max_size=6
        )
    )
    text = "".join(element + ("." if repeat else "") for element, repeat in items)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(items)))
        head = "".join(e + ("." if r else "") for e, r in items[:cut])
        tail = "".join(e + ("." if r else "") for e, r in items[cut:])
        text = f"<{head}:{draw(st.sampled_from(['', '+49', '9']))}>{tail}"
        if text.startswith("<:>"):
            text = text[3:]
    return text


@settings(max_examples=400, deadline=None)
@given(patterns(), st.text(alphabet="0123459*#+", max_size=8))
def test_matching_agrees_with_a_regular_expression(pattern: str, digits: str) -> None:
    parsed = plan(pattern)
    regex = re.compile(_regex_of(pattern))
    assert parsed.accepts(digits) == bool(regex.fullmatch(digits))
    match = parsed.match(digits)
    if match is Match.COMPLETE:
        assert parsed.accepts(digits)
    if parsed.accepts(digits):
        assert match is not Match.NO_MATCH
        assert isinstance(parsed.rewrite(digits), str)
    else:
        assert parsed.rewrite(digits) == digits
    # a prefix is alive iff some extension of it is accepted (checked one key further)
    if match is Match.NO_MATCH:
        assert all(parsed.match(digits + key) is Match.NO_MATCH for key in "0123459*#+")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_parse_raises_only_dial_plan_errors(text: str) -> None:
    try:
        parsed = plan(text)
    except DialPlanError:
        return
    for digits in ("", "0", "911", "*78"):
        parsed.match(digits)
        parsed.rewrite(digits)
