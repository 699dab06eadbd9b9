"""Request validation: OpenAI's own OpenAPI schemas first, then the rules the spec cannot say.

The spec (extracted into ``openai_schemas.json``) catches wrong types, bad enums and missing
fields. It does not forbid unknown parameters, and it still lists DALL·E-only options, so the
model-specific rules the real API enforces are layered on top here — each one from
shared/research/openai.md. Every failure becomes the error the real API returns: same
status, ``code``, ``param`` and message wording.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from batchcook.generation.catalog import Catalog, ModelInfo
from batchcook.testing.openai_emulator.errors import APIError, bad_request, not_found

DEPRECATIONS_URL = "https://platform.openai.com/docs/deprecations"
GPT_IMAGE_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}


@cache
def schemas() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openai_schemas.json").read_text()
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schemas()})


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schemas()[node["$ref"].rsplit("/", 1)[-1]]
    return node


def known_properties(name: str) -> frozenset[str]:
    """Top-level parameter names of a request schema, through ``allOf`` composition."""
    return _known_properties(name)


@cache
def _known_properties(name: str) -> frozenset[str]:
    found: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        node = _resolve(node)
        found.update(node.get("properties", {}))
        for part in node.get("allOf", []):
            walk(part)

    walk({"$ref": f"#/$defs/{name}"})
    return frozenset(found)


def param_path(path: Any, prefix: str = "") -> str:
    """``['input', 0, 'content']`` → ``input[0].content``, as OpenAI names parameters."""
    out = prefix
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_ARTICLE = {
    "integer": "an integer",
    "number": "a decimal",
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(param: str, expected: list[str], value: Any) -> APIError:
    want = " or ".join(_ARTICLE.get(t, t) for t in expected if t != "null")
    got = _ARTICLE[_json_type(value)]
    return bad_request(
        f"Invalid type for '{param}': expected {want}, but got {got} instead.",
        param=param,
        code="invalid_type",
    )


def to_api_error(err: ValidationError, prefix: str = "") -> APIError:
    """Turn the most relevant jsonschema error into OpenAI's wording."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        same_place = [e for e in err.context if e.absolute_path == err.absolute_path]
        if same_place and all(e.validator == "type" for e in same_place):
            expected: list[str] = []
            for e in same_place:
                t = e.validator_value
                expected.extend(t if isinstance(t, list) else [t])
            return _type_error(param_path(err.absolute_path, prefix), expected, err.instance)
        deeper = best_match(err.context)
        if deeper is not None:
            return to_api_error(deeper, prefix)
    param = param_path(err.absolute_path, prefix)
    value = err.instance
    kind = err.validator
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        name = param_path([*err.absolute_path, missing[0]], prefix) if missing else param
        return bad_request(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    if kind == "type":
        t = err.validator_value
        return _type_error(param, t if isinstance(t, list) else [t], value)
    if kind in ("enum", "const"):
        allowed = err.validator_value if kind == "enum" else [err.validator_value]
        shown = ", ".join(f"'{a}'" for a in allowed if a is not None)
        return bad_request(
            f"Invalid value: '{value}'. Supported values are: {shown}.",
            param=param,
            code="invalid_value",
        )
    if kind in ("minimum", "exclusiveMinimum"):
        return bad_request(
            f"Invalid '{param}': integer below minimum value. "
            f"Expected a value >= {err.validator_value}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if kind in ("maximum", "exclusiveMaximum"):
        return bad_request(
            f"Invalid '{param}': integer above maximum value. "
            f"Expected a value <= {err.validator_value}, but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    if kind == "maxLength":
        return bad_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{err.validator_value}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    if kind == "maxProperties":
        return bad_request(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{err.validator_value} properties, but got an object with {len(value)} "
            "properties instead.",
            param=param,
            code="object_above_max_properties",
        )
    if kind == "additionalProperties":
        extra = re.findall(r"'([^']+)' was unexpected", err.message)
        name = param_path([*err.absolute_path, extra[0]], prefix) if extra else param
        return bad_request(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    return bad_request(f"Invalid '{param}': {err.message}", param=param, code="invalid_value")


def check_schema(name: str, body: Any, *, prefix: str = "", strict_params: bool = True) -> None:
    """Validate ``body`` against spec schema ``name``; unknown top-level keys are refused.

    OpenAI refuses parameters it does not know (``unknown_parameter``) even though its spec
    does not say ``additionalProperties: false``.
    """
    if not isinstance(body, dict):
        raise _type_error(prefix or "body", ["object"], body)
    if strict_params:
        for key in body:
            if key not in known_properties(name):
                param = param_path([key], prefix)
                raise bad_request(
                    f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
                )
    err = best_match(validator(name).iter_errors(body))
    if err is not None:
        raise to_api_error(err, prefix)


def check_model(
    body: dict[str, Any], endpoint: str, catalog: Catalog, today: date, default: str | None = None
) -> ModelInfo:
    """The model must exist, be live, and serve this endpoint — as the real API decides."""
    name = body.get("model", default)
    if name is None:
        raise bad_request(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    info = catalog.find(name)
    if info is None:
        raise not_found(
            f"The model `{name}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    if info.retired(today):
        raise not_found(
            f"The model `{name}` has been deprecated, learn more here: {DEPRECATIONS_URL}",
            code="model_not_found",
        )
    if info.endpoint != endpoint:
        raise bad_request(
            f"The model `{name}` is not supported with the {endpoint} endpoint.",
            param="model",
            code="invalid_value",
        )
    return info


def check_strict_schema(fmt: dict[str, Any]) -> None:
    """Strict structured outputs: every object closed and every property required.

    This is why schemas must come from the SDK's helper: pydantic's own JSON schema leaves
    optional fields out of ``required`` and objects open, and the API refuses both.
    """
    if fmt.get("type") != "json_schema" or not fmt.get("strict"):
        return
    name = fmt.get("name", "")
    root = fmt.get("schema", {})

    def fail(context: tuple[str, ...], what: str) -> APIError:
        return bad_request(
            f"Invalid schema for response_format '{name}': In context={context}, {what}",
            param="text.format.schema",
            code="invalid_json_schema",
        )

    def walk(node: Any, context: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        is_object = node.get("type") == "object" or "properties" in node
        if is_object:
            if node.get("additionalProperties") is not False:
                raise fail(
                    context,
                    "'additionalProperties' is required to be supplied and to be false.",
                )
            props = node.get("properties", {})
            missing = [k for k in props if k not in node.get("required", [])]
            if missing:
                raise fail(
                    context,
                    "'required' is required to be supplied and to be an array including every "
                    f"key in properties. Missing '{missing[0]}'.",
                )
            for key, sub in props.items():
                walk(sub, (*context, "properties", key))
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*context, "items"))
        for key in ("anyOf", "allOf"):
            for i, sub in enumerate(node.get(key, [])):
                walk(sub, (*context, key, str(i)))
        for key in ("$defs", "definitions"):
            for sub_name, sub in node.get(key, {}).items():
                walk(sub, (*context, key, sub_name))

    walk(root, ())


def validate_responses_body(body: Any, catalog: Catalog, today: date) -> ModelInfo:
    check_schema("CreateResponse", body)
    info = check_model(body, "/v1/responses", catalog, today)
    if body.get("stream"):
        raise bad_request(
            "Streaming is not supported by the batchcook emulator.",
            param="stream",
            code="unsupported_value",
        )
    if body.get("service_tier") == "flex" and not info.flex:
        raise bad_request(
            f"Flex processing is not available for model '{info.name}'.",
            param="service_tier",
            code="invalid_value",
        )
    fmt = (body.get("text") or {}).get("format")
    if isinstance(fmt, dict):
        check_strict_schema(fmt)
    return info


def validate_images_body(body: Any, catalog: Catalog, today: date) -> ModelInfo:
    # The spec still lists DALL·E's response_format and has no service_tier: GPT image models
    # refuse both as unknown parameters (research §3, §4).
    if isinstance(body, dict):
        for key in ("response_format", "service_tier"):
            if key in body:
                raise bad_request(
                    f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter"
                )
    check_schema("CreateImageRequest", body)
    info = check_model(body, "/v1/images/generations", catalog, today, default="dall-e-2")
    size = body.get("size") or "auto"
    if info.name.startswith("gpt-image-2"):
        _check_flexible_size(size)
    elif size not in GPT_IMAGE_SIZES:
        raise bad_request(
            f"Invalid value: '{size}'. Supported values are: "
            "'1024x1024', '1024x1536', '1536x1024', and 'auto'.",
            param="size",
            code="invalid_value",
        )
    if body.get("background") == "transparent" and body.get("output_format") == "jpeg":
        raise bad_request(
            "Transparent background is not supported for output format 'jpeg'.",
            param="background",
            code="invalid_value",
        )
    return info


def _check_flexible_size(size: str) -> None:
    """gpt-image-2 takes any WxH: multiples of 16, ratio within 3:1, at most 3840x2160."""
    if size == "auto":
        return
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    ok = False
    if match:
        w, h = int(match[1]), int(match[2])
        ok = (
            w % 16 == 0
            and h % 16 == 0
            and w > 0
            and h > 0
            and max(w, h) <= 3 * min(w, h)
            and max(w, h) <= 3840
            and min(w, h) <= 2160
        )
    if not ok:
        raise bad_request(
            f"Invalid value: '{size}'. Size must be WIDTHxHEIGHT with both multiples of 16, "
            "an aspect ratio between 1:3 and 3:1, and at most 3840x2160.",
            param="size",
            code="invalid_value",
        )


def image_dimensions(size: str | None) -> tuple[int, int]:
    if not size or size == "auto":
        return 1024, 1024
    w, h = size.split("x")
    return int(w), int(h)
