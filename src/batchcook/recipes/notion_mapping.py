"""Recipe ⇄ Notion page (properties and body blocks), as pure functions.

The property names and types are those of the user's existing recipe database (the
TypeScript app's), so pages written here look like pages written there. Everything the
store writes can be read back into an equal ``Recipe``; the few places Notion cannot hold a
value as given (commas in option names) are normalised the same way on write and read, and
listed in ``normalise_for_notion`` so tests compare like with like.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel

from batchcook.errors import BatchcookError
from batchcook.recipes.schema import Recipe

# Notion's per-request limits (developers.notion.com/reference/request-limits).
MAX_TEXT_CHARS = 2000
MAX_ARRAY_ITEMS = 100
MAX_OPTION_CHARS = 100
#: Notion refuses bodies over 500 KB; keep a margin for the envelope.
MAX_BODY_BYTES = 450_000

Kind = Literal["title", "rich_text", "select", "multi_select", "number", "lines"]


@dataclass(frozen=True)
class Property:
    """One recipe field as a property of the recipes database: one row of ``PROPERTIES``.

    ``kind`` decides everything else — the Notion type the database must have, how the
    value is written and read back, how the local store's Markdown shows it. ``lines`` is a
    list of (name, quantity) items held as ``**name** - quantity`` rich-text lines.
    ``fact``: listed among the recipe's facts in its Markdown (the others have a place of
    their own there: the title, the description, a section).
    """

    name: str
    kind: Kind
    field: str
    fact: bool = True

    @property
    def notion_type(self) -> str:
        return "rich_text" if self.kind == "lines" else self.kind

    def write(self, recipe: Recipe) -> Json:
        """The property's value in the request shape of ``POST /v1/pages``."""
        value = getattr(recipe, self.field)
        match self.kind:
            case "title" | "rich_text":
                return {self.kind: rich_text(value)}
            case "select":
                return {"select": {"name": option_name(value)} if value.strip() else None}
            case "multi_select":
                return {"multi_select": [{"name": option_name(v)} for v in value]}
            case "number":
                return {"number": value}
            case "lines":
                return {"rich_text": _line_runs([_pair(item) for item in value])}

    def read(self, properties: Mapping[str, Any]) -> Any:
        """The value back from a page's properties as ``GET /v1/pages`` returns them."""
        match self.kind:
            case "title" | "rich_text":
                return _text(properties, self.name, self.kind)
            case "select":
                return _select(properties, self.name)
            case "multi_select":
                return _multi(properties, self.name)
            case "number":
                number = _number(properties, self.name)
                return int(number) if _field_type(self.field) is int else number
            case "lines":
                item = _item_model(self.field)
                keys = list(item.model_fields)[:2]
                lines = _parse_lines(_prop(properties, self.name, "rich_text") or [])
                return [item.model_validate(dict(zip(keys, line, strict=True))) for line in lines]

    def text(self, recipe: Recipe) -> str:
        """The value as one line of text (the local store's Markdown)."""
        value = getattr(recipe, self.field)
        match self.kind:
            case "multi_select":
                return ", ".join(value)
            case "number":
                return str(value) if isinstance(value, int) else f"{value:g}"
            case "lines":
                return "; ".join(" - ".join(_pair(item)) for item in value)
        return str(value)


#: The recipes database, in the order pages show the properties. The names and types are
#: those of the existing app's database. A new property: one row here, and a field on
#: ``Recipe`` (the job-id property, whose name is a setting, comes on top: see
#: ``required_schema``).
PROPERTIES: tuple[Property, ...] = (
    Property("Name", "title", "title", fact=False),
    Property("Description", "rich_text", "description", fact=False),
    Property("Country of Origin", "select", "country"),
    Property("Difficulty", "select", "difficulty"),
    Property("Prep Time (min)", "number", "prep_time"),
    Property("Cook Time (min)", "number", "cook_time"),
    Property("Serving Size", "rich_text", "serving_size"),
    Property("Ingredients", "lines", "ingredients", fact=False),
    Property("Meal Type", "multi_select", "meal_type"),
    Property("Diet", "multi_select", "diet"),
    Property("Allergies", "multi_select", "allergies"),
    Property("Protein Type", "multi_select", "protein_type"),
    Property("Calories (cal)", "number", "calories"),
    Property("Protein (g)", "number", "protein"),
    Property("Carbs (g)", "number", "carbs"),
    Property("Fat (g)", "number", "fat"),
    Property("Fiber (g)", "number", "fiber"),
    Property("Nutrition Facts", "lines", "other_nutrition", fact=False),
)
NAME = PROPERTIES[0].name
INGREDIENTS = "Ingredients"

#: Property name → Notion type, as the recipe database must have them.
RECIPE_PROPERTIES: dict[str, str] = {p.name: p.notion_type for p in PROPERTIES}


def _field_type(field: str) -> Any:
    return Recipe.model_fields[field].annotation


def _item_model(field: str) -> type[BaseModel]:
    """The item model of a ``list[Model]`` field (``Ingredient``, ``NutritionItem``)."""
    [item] = get_args(_field_type(field))
    return cast(type[BaseModel], item)


def _pair(item: BaseModel) -> tuple[str, str]:
    """An item of a ``lines`` property as (name, quantity): its first two fields."""
    name, quantity = list(item.model_dump().values())[:2]
    return str(name), str(quantity)


DEFAULT_JOB_PROPERTY = "Batchcook Job"
TLDR_PREFIX = "TL;DR: "
PREPARATION_HEADING = "Preparation"
INSTRUCTIONS_HEADING = "Instructions"

Json = dict[str, Any]


# Optional properties a user may add (and hide) to follow long jobs on the page itself.
STATUS = "Status"  # select: Generating | Ready | Failed
BATCH_IDS = "Batch IDs"  # rich_text
OPTIONAL_PROPERTIES = {STATUS: "select", BATCH_IDS: "rich_text"}
#: The values the store writes in ``Status``.
STATUS_VALUES = ("Generating", "Ready", "Failed")


def required_schema(job_property: str = DEFAULT_JOB_PROPERTY) -> dict[str, str]:
    """Every property the store writes, with the type it must have."""
    return {**{p.name: p.notion_type for p in PROPERTIES}, job_property: "rich_text"}


# --- rich text -------------------------------------------------------------------------


def _chunks(text: str, size: int = MAX_TEXT_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


def text_run(content: str, *, bold: bool = False) -> Json:
    run: Json = {"type": "text", "text": {"content": content}}
    if bold:
        run["annotations"] = {"bold": True}
    return run


def rich_text(text: str, *, bold: bool = False) -> list[Json]:
    """``text`` as rich-text items of at most 2000 characters each (Notion's limit)."""
    return [text_run(piece, bold=bold) for piece in _chunks(text)]


def _runs(segments: Iterable[tuple[str, bool]]) -> list[Json]:
    """Segments as rich text within Notion's limits: ≤ 2000 characters per item and ≤ 100
    items. Past 100 items the tail is merged into plain runs: bold is lost there, but the
    text (and so the round trip, see ``_parse_lines``) is kept."""
    pieces: list[tuple[str, bool]] = []
    for text, bold in segments:
        pieces.extend((chunk, bold) for chunk in _chunks(text))
    if len(pieces) > MAX_ARRAY_ITEMS:
        head = pieces[: MAX_ARRAY_ITEMS - 1]
        tail = "".join(text for text, _ in pieces[MAX_ARRAY_ITEMS - 1 :])
        tail_chunks = _chunks(tail)
        if len(head) + len(tail_chunks) > MAX_ARRAY_ITEMS:
            raise ValueError("text too long for one Notion rich-text property (100 × 2000 chars)")
        pieces = head + [(chunk, False) for chunk in tail_chunks]
    return [text_run(text, bold=bold) for text, bold in pieces]


def plain_text(items: Sequence[Mapping[str, Any]]) -> str:
    """The text of rich-text items, as Notion returns them (``plain_text``) or as we send
    them (``text.content``)."""
    return "".join(_item_text(item) for item in items)


def _item_text(item: Mapping[str, Any]) -> str:
    if "plain_text" in item:
        return str(item["plain_text"])
    text = item.get("text") or {}
    return str(text.get("content", ""))


def _is_bold(item: Mapping[str, Any]) -> bool:
    return bool((item.get("annotations") or {}).get("bold"))


# --- "**name** - quantity" lines (Ingredients, Nutrition Facts) ---------------------


def _line_runs(pairs: Sequence[tuple[str, str]]) -> list[Json]:
    segments: list[tuple[str, bool]] = []
    for index, (name, quantity) in enumerate(pairs):
        newline = "\n" if index < len(pairs) - 1 else ""
        segments.append((name, True))
        segments.append((f" - {quantity}{newline}", False))
    return _runs(segment for segment in segments if segment[0])


def _parse_lines(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Inverse of ``_line_runs``. The bold part of a line is the name; where bold was lost
    (a line past Notion's 100-item limit, or a user's edit) the name ends at the first
    " - "."""
    lines: list[list[tuple[str, bool]]] = [[]]
    for item in items:
        bold = _is_bold(item)
        parts = _item_text(item).split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append((part, bold))
    pairs: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        name = ""
        rest_index = 0
        while rest_index < len(line) and line[rest_index][1]:
            name += line[rest_index][0]
            rest_index += 1
        rest = "".join(text for text, _ in line[rest_index:])
        if name:
            quantity = rest.removeprefix(" - ")
        else:
            name, _, quantity = rest.partition(" - ")
        pairs.append((name, quantity))
    return pairs


# --- options ----------------------------------------------------------------------------


def option_name(name: str) -> str:
    """Notion rejects commas in select option names and caps them at 100 characters."""
    return name.replace(",", ";").strip()[:MAX_OPTION_CHARS]


def normalise_for_notion(recipe: Recipe) -> Recipe:
    """The recipe as Notion will hold it: what a read-back returns for this input.

    ``change_description`` is not stored on the page (it goes into the comment)."""
    return recipe.model_copy(
        update={
            "country": option_name(recipe.country),
            "diet": [option_name(tag) for tag in recipe.diet],
            "allergies": [option_name(tag) for tag in recipe.allergies],
            "change_description": None,
        }
    )


# --- Recipe → Notion --------------------------------------------------------------------


def recipe_properties(
    recipe: Recipe, *, job_id: str | None = None, job_property: str = DEFAULT_JOB_PROPERTY
) -> Json:
    """The page's property values, in the request shape of ``POST /v1/pages``."""
    props: Json = {p.name: p.write(recipe) for p in PROPERTIES}
    if job_id is not None:
        props[job_property] = {"rich_text": rich_text(job_id)}
    return props


def _block(kind: str, text: str, **extra: Any) -> Json:
    return {"object": "block", "type": kind, kind: {"rich_text": rich_text(text), **extra}}


def recipe_blocks(recipe: Recipe) -> list[Json]:
    """The page body: the TL;DR as a quote, then "Preparation" and "Instructions", each a
    heading followed by its numbered steps. Not batched: see ``batches``."""
    blocks = [_block("quote", TLDR_PREFIX + recipe.tldr)]
    for heading, steps in (
        (PREPARATION_HEADING, recipe.preparation),
        (INSTRUCTIONS_HEADING, recipe.instructions),
    ):
        blocks.append(_block("heading_2", heading, is_toggleable=False))
        blocks.extend(_block("numbered_list_item", step) for step in steps)
    return blocks


def batches(blocks: Sequence[Json], *, first_budget: int = 0, budget: int = 0) -> list[list[Json]]:
    """Blocks in groups Notion accepts in one request: ≤ 100 children and a JSON size
    within ``budget`` bytes (default: ``MAX_BODY_BYTES``), the first group within
    ``first_budget`` (what is left of a create request after its properties)."""
    budget = budget or MAX_BODY_BYTES
    limit = first_budget or budget
    groups: list[list[Json]] = [[]]
    size = 0
    for block in blocks:
        block_size = len(json.dumps(block, ensure_ascii=False).encode()) + 1
        if groups[-1] and (len(groups[-1]) >= MAX_ARRAY_ITEMS or size + block_size > limit):
            groups.append([])
            size, limit = 0, budget
        groups[-1].append(block)
        size += block_size
    return [group for group in groups if group]


# --- Notion → Recipe --------------------------------------------------------------------


class MappingError(BatchcookError, ValueError):
    """A page that does not hold a recipe in the shape we write."""


def _prop(properties: Mapping[str, Any], name: str, kind: str) -> Any:
    try:
        value = properties[name]
    except KeyError:
        raise MappingError(f"the page has no property {name!r} ({kind})") from None
    if value.get("type", kind) != kind:
        raise MappingError(f"property {name!r} is {value.get('type')}, expected {kind}")
    return value.get(kind)


def _text(properties: Mapping[str, Any], name: str, kind: str = "rich_text") -> str:
    return plain_text(_prop(properties, name, kind) or [])


def _number(properties: Mapping[str, Any], name: str) -> float:
    value = _prop(properties, name, "number")
    return 0.0 if value is None else float(value)


def _select(properties: Mapping[str, Any], name: str) -> str:
    value = _prop(properties, name, "select")
    return "" if value is None else str(value["name"])


def _multi(properties: Mapping[str, Any], name: str) -> list[str]:
    return [str(option["name"]) for option in _prop(properties, name, "multi_select") or []]


def job_id_of(properties: Mapping[str, Any], job_property: str = DEFAULT_JOB_PROPERTY) -> str:
    return _text(properties, job_property) if job_property in properties else ""


def recipe_from_page(properties: Mapping[str, Any], blocks: Sequence[Mapping[str, Any]]) -> Recipe:
    """A page (its properties as ``GET /v1/pages`` returns them, and its top-level blocks)
    back into a ``Recipe``."""
    tldr = ""
    sections: dict[str, list[str]] = {PREPARATION_HEADING: [], INSTRUCTIONS_HEADING: []}
    current: list[str] | None = None
    for block in blocks:
        kind = block.get("type", "")
        text = plain_text((block.get(kind) or {}).get("rich_text", []))
        if kind == "quote" and text.startswith(TLDR_PREFIX):
            tldr = text.removeprefix(TLDR_PREFIX)
        elif kind.startswith("heading_"):
            current = sections.get(text.strip())
        elif kind == "numbered_list_item" and current is not None:
            current.append(text)
    data: dict[str, Any] = {p.field: p.read(properties) for p in PROPERTIES}
    data.update(
        tldr=tldr,
        preparation=sections[PREPARATION_HEADING],
        instructions=sections[INSTRUCTIONS_HEADING],
    )
    try:
        return Recipe.model_validate(data)
    except ValueError as error:
        raise MappingError(f"the page does not hold a valid recipe: {error}") from error


@dataclass(frozen=True)
class Cover:
    """A page's cover as Notion links it. A file Notion hosts (an uploaded photo) has a
    signed URL that expires about an hour after the read (``expires``, ISO 8601); an
    external cover keeps its own URL (``expires`` None)."""

    url: str
    expires: str | None = None


def cover_of(page: Mapping[str, Any]) -> Cover | None:
    """The cover of a page as ``GET /v1/pages`` returns it (``file`` or ``external``)."""
    cover = page.get("cover") or {}
    link = cover.get(cover.get("type", "")) or {}
    url = link.get("url")
    if not isinstance(url, str) or not url:
        return None
    expires = link.get("expiry_time")
    return Cover(url, expires if isinstance(expires, str) else None)


# --- comments ---------------------------------------------------------------------------


def mention_then(text: str, user_id: str | None) -> list[Json]:
    """A comment's rich text: an @-mention of the user (so Notion notifies them), then text."""
    items: list[Json] = []
    if user_id:
        items.append({"type": "mention", "mention": {"type": "user", "user": {"id": user_id}}})
        text = " " + text
    return items + rich_text(text)


def ready_comment(recipe: Recipe, user_id: str | None) -> list[Json]:
    return mention_then(f"Your recipe “{recipe.title}” is ready.", user_id)


def change_comment(recipe: Recipe, user_id: str | None) -> list[Json]:
    what = recipe.change_description or "The recipe was updated."
    return mention_then(f"Updated “{recipe.title}”: {what}", user_id)


def cast_json(value: Any) -> Json:
    """Responses from notion-client are untyped dicts."""
    return cast(Json, value)
