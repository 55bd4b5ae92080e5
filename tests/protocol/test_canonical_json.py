"""Canonical JSON (spec: Appendices, "Canonical JSON")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.canonical_json import (
    MAX_SAFE_INTEGER,
    MIN_SAFE_INTEGER,
    check_canonical_json,
    encode_canonical_json,
    parse_json,
)
from protocol.errors import BadJson, NotJson
from tests.protocol.strategies import json_text, json_values

# Spec: Appendices, "Canonical JSON", "Examples": (input, expected canonical output).
SPEC_EXAMPLES = [
    ("{}", "{}"),
    ('{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'),
    ('{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        """{
            "auth": {
                "success": true,
                "mxid": "@john.doe:example.com",
                "profile": {
                    "display_name": "John Doe",
                    "three_pids": [
                        {"medium": "email", "address": "john.doe@example.org"},
                        {"medium": "msisdn", "address": "123456789"}
                    ]
                }
            }
        }""",
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":'
        '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},'
        '"success":true}}',
    ),
    ('{\n    "a": "日本語"\n}', '{"a":"日本語"}'),
    ('{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'),
    ('{\n    "a": "\\u65E5"\n}', '{"a":"日"}'),
    ('{\n    "a": null\n}', '{"a":null}'),
    ('{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'),
]


@pytest.mark.parametrize(("text", "expected"), SPEC_EXAMPLES)
def test_spec_examples_encode_to_the_expected_canonical_json(text: str, expected: str) -> None:
    assert encode_canonical_json(parse_json(text, strict=True)) == expected.encode("utf-8")


def test_lenient_parsing_keeps_floats_so_old_events_re_encode_as_their_origin_hashed_them() -> None:
    value = parse_json('{"users": {"@bob:localhost": 50.57}, "b": 1e10}')
    assert value == {"users": {"@bob:localhost": 50.57}, "b": 1e10}
    assert isinstance(value["b"], float)


def test_strict_parsing_refuses_fractions_and_out_of_range_integers() -> None:
    for text in ('{"a": 1.5}', '{"a": 9007199254740992}', '{"a": -9007199254740992}', '{"a": 1e16}'):
        with pytest.raises(BadJson):
            parse_json(text, strict=True)
    assert parse_json('{"a": 9007199254740991, "b": -9007199254740991}', strict=True) == {
        "a": MAX_SAFE_INTEGER,
        "b": MIN_SAFE_INTEGER,
    }


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_python_only_constants_are_not_json(constant: str) -> None:
    with pytest.raises(BadJson):
        parse_json(f'{{"a": {constant}}}')


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", b"\xff\xfe\x00"])
def test_malformed_text_is_not_json(text: str | bytes) -> None:
    with pytest.raises(NotJson):
        parse_json(text)


def test_check_refuses_floats_and_big_integers_naming_where() -> None:
    with pytest.raises(BadJson, match=r"content\.users\.@a:b"):
        check_canonical_json({"content": {"users": {"@a:b": 50.0}}})
    with pytest.raises(BadJson, match=r"prev_events\[1\]"):
        check_canonical_json({"prev_events": [1, 2**53]})
    with pytest.raises(BadJson):
        check_canonical_json({1: "non-string key"})
    with pytest.raises(BadJson):
        check_canonical_json({"a": object()})


def test_check_accepts_booleans_null_and_boundary_integers() -> None:
    check_canonical_json({"t": True, "f": False, "n": None, "max": MAX_SAFE_INTEGER, "min": MIN_SAFE_INTEGER})


def _reversed_insertion_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_insertion_order(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_insertion_order(item) for item in value]
    return value


@given(json_values)
def test_encoding_does_not_depend_on_key_order(value: Any) -> None:
    assert encode_canonical_json(_reversed_insertion_order(value)) == encode_canonical_json(value)


@given(json_values)
def test_canonical_values_round_trip_through_strict_parsing(value: Any) -> None:
    check_canonical_json(value)
    assert parse_json(encode_canonical_json(value), strict=True) == value


# Spec: "Grammar": outside strings no whitespace; inside, only these escapes.
_ALLOWED_ESCAPE = re.compile(r'\\(?:[btnfr"\\]|u000[0-7bef]|u001[0-9a-f])')


@given(json_text)
def test_strings_use_only_the_escapes_the_grammar_allows(text: str) -> None:
    encoded = encode_canonical_json(text).decode("utf-8")[1:-1]
    without_escapes = _ALLOWED_ESCAPE.sub("", encoded)
    assert "\\" not in without_escapes
    assert not any(ord(char) < 0x20 or char == '"' for char in without_escapes)
    assert json.loads(f'"{encoded}"') == text


@given(st.dictionaries(json_text, st.integers(MIN_SAFE_INTEGER, MAX_SAFE_INTEGER), max_size=5))
def test_encoding_has_no_insignificant_whitespace(value: dict[str, int]) -> None:
    assert encode_canonical_json(value) == json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
