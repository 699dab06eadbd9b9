"""What the emulated models "generate": deterministic from the request, valid by construction.

In order: a modification prompt (a recipe as JSON plus "Change it as follows: …") is answered
with that recipe changed by the fixtures' change rules; a prompt matching a fixture gets the
fixture's canned JSON (a real recipe) or drawing; anything else gets JSON built from the
requested strict schema, seeded by a hash of the input so the same request gives the same
answer. Canned or changed JSON is used only when it validates against the request's schema,
so the emulator never returns what the real model, bound by that schema, could not. Images are
real encoded images of the requested size and format. Token counts follow the real shapes:
about four characters a token for text, the published per-image token table for images.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import random
import re
import time
import uuid
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from PIL import Image, ImageDraw

from batchcook.generation.catalog import ModelInfo
from batchcook.generation.estimate import IMAGE_OUTPUT_TOKENS
from batchcook.testing.openai_emulator.drawing import draw_dish
from batchcook.testing.openai_emulator.fixtures import Drawing, Fixtures, Modification
from batchcook.testing.openai_emulator.validation import image_dimensions

# How ``batchcook.recipes.prompts.modification_prompt`` frames a change; a test keeps the two
# in step. The recipe JSON comes before the marker, the request right after it.
CHANGE_MARKER = re.compile(r"change it as follows:[ \t]*", re.IGNORECASE)
# And how ``modified_image_prompt`` asks for the changed dish's picture.
IMAGE_CHANGE_MARKER = re.compile(r"changed as follows:", re.IGNORECASE)

REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 64, "medium": 256, "high": 1024, "xhigh": 2048}
# Output tokens per image: the same table the service estimates costs with.
IMAGE_TOKENS = IMAGE_OUTPUT_TOKENS


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _seed(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _input_text(body: dict[str, Any]) -> str:
    """The user-visible text of a Responses ``input`` (string or message list)."""
    value = body.get("input", "")
    if isinstance(value, str):
        return value
    out: list[str] = []
    for item in value if isinstance(value, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return "\n".join(out)


class _Instance:
    """Builds a JSON value that validates against a (strict) JSON schema."""

    def __init__(self, root: dict[str, Any], rng: random.Random, topic: str) -> None:
        self.root = root
        self.rng = rng
        self.topic = " ".join(topic.split()[:8]) or "dish"

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in node and seen < 32:
            path = node["$ref"].lstrip("#/").split("/")
            target: Any = self.root
            for part in path:
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node

    def value(self, node: dict[str, Any], key: str = "value") -> Any:
        node = self.resolve(node)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            choices = [c for c in node["enum"] if c is not None] or [None]
            return self.rng.choice(choices)
        for combo in ("anyOf", "oneOf"):
            if combo in node:
                options = [o for o in node[combo] if self.resolve(o).get("type") != "null"]
                return self.value(options[0] if options else node[combo][0], key)
        if "allOf" in node:
            merged: dict[str, Any] = {}
            for part in node["allOf"]:
                merged.update(self.resolve(part))
            return self.value(merged, key)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in node:
            return {k: self.value(v, k) for k, v in node.get("properties", {}).items()}
        if kind == "array":
            low = max(int(node.get("minItems", 2)), 0)
            high = max(int(node.get("maxItems", 4)), low)
            return [
                self.value(node.get("items", {}), key) for _ in range(self.rng.randint(low, high))
            ]
        if kind == "integer":
            return self.rng.randint(int(node.get("minimum", 5)), int(node.get("maximum", 60)))
        if kind == "number":
            return round(self.rng.uniform(node.get("minimum", 1), node.get("maximum", 100)), 1)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        if key in ("title", "name"):
            return self.topic.title()
        words = key.replace("_", " ")
        return f"{words.capitalize()} for {self.topic} ({self.rng.randint(1, 999)})"


def structured_text(schema: dict[str, Any], seed_text: str, topic: str | None = None) -> str:
    """Schema filler; ``topic`` names the dish in titles (default: the start of the input)."""
    rng = _seed(schema, seed_text)
    instance = _Instance(schema, rng, seed_text if topic is None else topic)
    return json.dumps(instance.value(schema), ensure_ascii=False)


def _valid(schema: dict[str, Any], value: Any) -> bool:
    try:
        return not any(True for _ in Draft202012Validator(schema).iter_errors(value))
    except Exception:  # a schema jsonschema cannot use: never answer with canned JSON then
        return False


def modification_request(text: str) -> tuple[dict[str, Any], str] | None:
    """(the embedded object, the change request) when ``text`` is a modification prompt."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        current, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    # The marker after the recipe: the recipe's own text may contain the words.
    marker = CHANGE_MARKER.search(text, end)
    if marker is None or text[end : marker.start()].strip():
        return None
    request = text[marker.end() :].split("\n\n", 1)[0].strip()
    return (current, request) if isinstance(current, dict) and request else None


def _cased(replacement: str, matched: str) -> str:
    return replacement[:1].upper() + replacement[1:] if matched[:1].isupper() else replacement


def _reword(value: Any, rule: Modification) -> Any:
    if isinstance(value, str):
        text: str = value
        for pattern, replacement in rule.words:

            def swap(m: re.Match[str], r: str = replacement) -> str:
                return _cased(r, m.group(0))

            text = pattern.sub(swap, text)
        return text
    if isinstance(value, list):
        return [_reword(v, rule) for v in value]
    if isinstance(value, dict):
        return {k: _reword(v, rule) for k, v in value.items()}
    return value


def _swap_ingredients(items: list[Any], rule: Modification) -> list[Any]:
    """Each matching ingredient replaced (first rule wins), duplicates merged."""
    out: list[Any] = []
    seen: set[str] = set()
    for item in items:
        name = item.get("ingredient") if isinstance(item, dict) else None
        swap = next((s for s in rule.ingredients if name and s.pattern.search(name)), None)
        if swap is not None and isinstance(item, dict):
            quantity = swap.quantity if swap.quantity is not None else item.get("quantity")
            item = {**item, "ingredient": swap.ingredient, "quantity": quantity}
        key = json.dumps(item.get("ingredient") if isinstance(item, dict) else item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def apply_change(current: dict[str, Any], request: str, fixtures: Fixtures) -> dict[str, Any]:
    """The recipe changed as a cook would for ``request``: a matching change rule swaps
    ingredients, rewords steps, adjusts tags and renames ("Vegan Pasta Carbonara"); with no
    rule, the recipe is kept and only ``change_description`` records the request."""
    changed = dict(current)
    rule = fixtures.modification_for(request)
    if rule is None:
        note = f"Adjusted as requested: {request.rstrip('.')}."
    else:
        title = str(current.get("title", ""))
        if title and "title" in changed:
            prefix = rule.title.split("{title}")[0].strip().lower()
            if not (prefix and title.lower().startswith(prefix)):
                changed["title"] = rule.title.replace("{title}", title)
        tags = {*rule.add, *rule.remove, *rule.set}  # set by the rule, not reworded
        for key, items in rule.remove.items():
            if isinstance(changed.get(key), list):
                changed[key] = [v for v in changed[key] if v not in items]
        for key, value in list(changed.items()):
            if key == "title" or key in tags:
                continue
            if key == "ingredients" and isinstance(value, list):
                value = _swap_ingredients(value, rule)
            changed[key] = _reword(value, rule)
        for key, items in rule.add.items():
            if isinstance(changed.get(key), list):
                changed[key] = changed[key] + [v for v in items if v not in changed[key]]
        for key, value in rule.set.items():
            if key in changed:
                changed[key] = value
        note = rule.change_description or f"Changed as requested: {request.rstrip('.')}."
    changed["change_description"] = note
    return changed


def answer_text(schema: dict[str, Any], user_text: str, fixtures: Fixtures | None) -> str:
    """The JSON the emulated model returns for a strict ``json_schema`` request."""
    fixtures = fixtures or Fixtures()
    modify = modification_request(user_text)
    if modify is not None:
        current, request = modify
        changed = apply_change(current, request, fixtures)
        if "change_description" not in (schema.get("properties") or {}):
            changed.pop("change_description")
        if _valid(schema, changed):
            return json.dumps(changed, ensure_ascii=False)
        # Not this schema's shape: filler, but named after the dish, not the prompt.
        return structured_text(schema, user_text, str(current.get("title") or "dish"))
    fixture = fixtures.response_for(user_text)
    if fixture is not None and fixture.response is not None and _valid(schema, fixture.response):
        return json.dumps(fixture.response, ensure_ascii=False)
    return structured_text(schema, user_text)


def response_body(
    body: dict[str, Any],
    info: ModelInfo,
    *,
    refuse: bool = False,
    fixtures: Fixtures | None = None,
) -> dict[str, Any]:
    """A ``Response`` object for a validated ``/v1/responses`` request."""
    user_text = _input_text(body)
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    if fmt.get("type") == "json_schema":
        text = answer_text(fmt.get("schema", {}), user_text, fixtures)
    elif fmt.get("type") == "json_object":
        text = json.dumps({"answer": user_text[:200]})
    else:
        text = f"Here is a clear, concise answer about: {user_text[:200]}"
    effort = ((body.get("reasoning") or {}).get("effort")) or "medium"
    reasoning = REASONING_TOKENS.get(effort, 256) if info.reasoning else 0
    input_tokens = tokens(str(body.get("instructions") or "") + user_text + json.dumps(fmt))
    output_tokens = tokens(text) + reasoning
    status, incomplete = "completed", None
    limit = body.get("max_output_tokens")
    if limit is not None and output_tokens > limit:
        # Like the real API: the answer is cut where the budget ran out.
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        keep = max(0, (limit - reasoning) * 4)
        text = text[:keep]
        output_tokens = limit
    now = int(time.time())
    output: list[dict[str, Any]] = []
    if info.reasoning:
        output.append({"id": new_id("rs"), "type": "reasoning", "summary": []})
    if refuse:
        content: dict[str, Any] = {
            "type": "refusal",
            "refusal": "I'm sorry, but I can't help with that request.",
        }
    else:
        content = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    if text or refuse:
        output.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed" if status == "completed" else "incomplete",
                "role": "assistant",
                "content": [content],
            }
        )
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": now,
        "completed_at": now if status == "completed" else None,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": limit,
        "model": info.name,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": effort if info.reasoning else None, "summary": None},
        "service_tier": body.get("service_tier") or "default",
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": {"format": fmt},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens,
        },
        "metadata": body.get("metadata") or {},
    }


@lru_cache(maxsize=64)
def render_image(
    prompt: str,
    width: int,
    height: int,
    fmt: str,
    compression: int,
    drawing: Drawing | None = None,
) -> bytes:
    """A real image in the requested format: the fixture's dish when one matched, else a
    plate on a table with colours from the prompt."""
    rng = _seed(prompt)
    if drawing is not None:
        return _encode(draw_dish(drawing, width, height, rng), fmt, compression)
    table = tuple(rng.randint(60, 200) for _ in range(3))
    food = tuple(rng.randint(100, 255) for _ in range(3))
    image = Image.new("RGB", (width, height), table)
    draw = ImageDraw.Draw(image)
    cx, cy, r = width // 2, height // 2, min(width, height) // 3
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 245, 240))
    for _ in range(12):
        x, y = cx + rng.randint(-r // 2, r // 2), cy + rng.randint(-r // 2, r // 2)
        s = rng.randint(r // 10, r // 4)
        draw.ellipse((x - s, y - s, x + s, y + s), fill=food)
    return _encode(image, fmt, compression)


def _encode(image: Image.Image, fmt: str, compression: int) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG")
    else:
        image.save(out, format=fmt.upper(), quality=max(1, compression))
    return out.getvalue()


def image_body(
    body: dict[str, Any], info: ModelInfo, fixtures: Fixtures | None = None
) -> dict[str, Any]:
    """An ``ImagesResponse`` for a validated ``/v1/images/generations`` request."""
    prompt = str(body["prompt"])
    drawing = fixtures.image_for(prompt) if fixtures is not None else None
    changed = IMAGE_CHANGE_MARKER.search(prompt)
    if drawing is not None and fixtures is not None and changed is not None:
        rule = fixtures.modification_for(prompt[changed.end() :])
        drawing = rule.redraw(drawing) if rule is not None else drawing
    size = body.get("size") or "auto"
    width, height = image_dimensions(size)
    fmt = body.get("output_format") or "png"
    compression = body.get("output_compression")
    compression = 100 if compression is None else int(compression)
    quality = body.get("quality") or "auto"
    billed_quality = "medium" if quality == "auto" else quality
    n = int(body.get("n") or 1)
    data = [
        {
            "b64_json": base64.b64encode(
                render_image(f"{prompt}#{i}", width, height, fmt, compression, drawing)
            ).decode()
        }
        for i in range(n)
    ]
    area = 1024 * 1024 if width == height else 1536 * 1024
    per_image = IMAGE_TOKENS.get((billed_quality, area), round(1056 * width * height / 1024**2))
    text_in = tokens(prompt)
    return {
        "created": int(time.time()),
        "data": data,
        "background": "opaque",
        "output_format": fmt,
        "size": f"{width}x{height}",
        "quality": billed_quality,
        "usage": {
            "input_tokens": text_in,
            "input_tokens_details": {"text_tokens": text_in, "image_tokens": 0},
            "output_tokens": per_image * n,
            "total_tokens": text_in + per_image * n,
        },
    }
