"""``${path}`` templates: syntax, lookups, defaults and escaping per content type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhooksd.transforms import compile_hook_transforms, mode_of
from webhooksd.transforms.template import Mode, check_json, compile_template

PAYLOAD: dict[str, Any] = {
    "call_id": "abc",
    "caller_id_name": 'Ann "the" O\'Brien\n',
    "duration": 42,
    "flag": True,
    "nested": {"a": {"b": "deep"}},
    "legs": [{"id": "L0"}, {"id": "L1"}],
    "nothing": None,
    "big": 2**70,
}


@pytest.mark.parametrize(
    ("template", "mode", "expected"),
    [
        ("${call_id}", "text", "abc"),
        ("id=${nested.a.b}", "text", "id=deep"),
        ("${legs.1.id}", "text", "L1"),
        ("${legs.7.id|none}", "text", "none"),
        ("${missing}", "text", ""),
        ("${missing|}", "text", ""),
        ("${missing|a default}", "text", "a default"),
        ("${nothing|was null}", "text", "was null"),
        ("${duration}s", "text", "42s"),
        ("${flag}", "text", "true"),
        ("${nested.a}", "text", '{"b":"deep"}'),
        ("${big}", "text", str(2**70)),
        ("cost: $$5 and $x", "text", "cost: $5 and $x"),
        ("$${call_id}", "text", "${call_id}"),
        ("${ call_id }", "text", "abc"),
        ('{"n": "${caller_id_name}"}', "json", '{"n": "Ann \\"the\\" O\'Brien\\n"}'),
        ('{"d": ${duration}, "s": ${call_id}}', "json", '{"d": 42, "s": "abc"}'),
        ('{"m": ${missing}, "o": ${nested.a}}', "json", '{"m": null, "o": {"b":"deep"}}'),
        ('{"m": ${missing|7}, "t": ${missing|text}}', "json", '{"m": 7, "t": "text"}'),
        ('{"m": "${missing|x\\"y}"}', "json", '{"m": "x\\\\\\"y"}'),
        ('{"q": "say \\"${call_id}\\""}', "json", '{"q": "say \\"abc\\""}'),
        ('{"b": ${big}}', "json", f'{{"b": {2**70}}}'),
        ("a=${caller_id_name}&d=${duration}", "form", "a=Ann+%22the%22+O%27Brien%0A&d=42"),
        ("${caller_id_name}", "header", 'Ann "the" O\'Brien '),
    ],
)
def test_render(template: str, mode: Mode, expected: str) -> None:
    """Each template renders exactly as the documented rules say."""
    assert compile_template(template, allow_auth=False).render(PAYLOAD, mode) == expected


def test_json_escaping_gives_valid_json_for_hostile_values() -> None:
    """Quotes, backslashes, newlines and control characters in values keep the body JSON."""
    template = compile_template('{"a": "${v}", "b": ${v}, "c": "x${w.k}y"}', allow_auth=False)
    for value in ['"', "\\", '\\"}, "x": 1, "y": "', "\x00\x1f\n\r\t", "ü€𝄞", "</script>"]:
        body = template.render({"v": value, "w": {"k": value}}, "json")
        assert json.loads(body) == {"a": value, "b": value, "c": f"x{value}y"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${call_id", "not closed"),
        ("${}", "empty"),
        ("${|x}", "empty"),
        ("${a..b}", "empty segment"),
        ("${a.}", "empty segment"),
        ("${a b}", "may not contain"),
        ("${a$b}", "may not contain"),
        ("${auth:body:token}", "only be used in custom_request_headers"),
        ("x" * 20_000, "longer than"),
    ],
)
def test_bad_templates(template: str, message: str) -> None:
    """Each malformed template is refused with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        compile_template(template, allow_auth=False)


def test_not_a_string() -> None:
    """A template must be a string."""
    with pytest.raises(ValueError, match="must be a string"):
        compile_template(42, allow_auth=False)


def test_auth_placeholders_in_headers() -> None:
    """``${auth:body:…}`` reads the auth answer and marks the header as carrying a secret."""
    template = compile_template("Bearer ${auth:body:access_token}", allow_auth=True)
    assert template.uses_auth
    assert template.render({}, "header", {"auth:body:access_token": "t0k"}) == "Bearer t0k"
    with pytest.raises(ValueError, match="auth:body:<field>"):
        compile_template("${auth:cookie}", allow_auth=True)


def test_missing_lists_only_placeholders_without_defaults() -> None:
    """``missing`` names the placeholders a payload cannot fill and that have no default."""
    template = compile_template("${a} ${b|x} ${c.d}", allow_auth=False)
    assert template.missing({"c": {"d": 1}}) == ["a"]


@pytest.mark.parametrize(
    ("template", "ok"),
    [
        ('{"a": "${x}"}', True),
        ('{"a": ${x}, "b": [${y}, ${z}]}', True),
        ('{"a": ${x}', False),
        ('{"a": "${x}}', False),
        ("${x}", True),
        ("plain text", False),
    ],
)
def test_check_json(template: str, ok: bool) -> None:
    """A JSON body template must be JSON once its placeholders are filled."""
    assert (check_json(compile_template(template, allow_auth=False)) is None) is ok


@pytest.mark.parametrize(
    ("content_type", "mode"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("application/vnd.api+json", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("text/plain", "text"),
        ("application/xml", "text"),
    ],
)
def test_mode_of(content_type: str, mode: Mode) -> None:
    """The escaping mode follows the media type."""
    assert mode_of(content_type) == mode


def test_content_type_comes_from_header_then_format() -> None:
    """An explicit Content-Type custom header decides the body's escaping over ``format``."""
    doc = {
        "format": "form-data",
        "body_template": '{"n": "${name}"}',
        "custom_request_headers": {"content-type": "application/json"},
    }
    transforms = compile_hook_transforms(doc)
    assert transforms.render_body({"name": 'a"b'}) == b'{"n": "a\\"b"}'
    plain = compile_hook_transforms(
        {"format": "json", "body_template": "n=${name}"}
        | {"custom_request_headers": {"Content-Type": "text/plain"}}
    )
    assert plain.render_body({"name": 'a"b'}) == b'n=a"b'
    form = compile_hook_transforms({"body_template": "n=${name}"})
    assert form.render_body({"name": "a b&c"}) == b"n=a+b%26c"
    assert form.render_body({"name": "a b"}, "text/plain") == b"n=a b"


def test_no_template_no_body() -> None:
    """Without ``body_template`` there is no rendered body (the generated one is used)."""
    assert compile_hook_transforms({}).render_body({"a": 1}) is None
