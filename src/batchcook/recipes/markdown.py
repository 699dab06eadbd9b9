"""A recipe as Markdown, as pure functions: what the local store writes beside each recipe
and what ``batchcook export --format markdown`` prints."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from batchcook.recipes import notion_mapping
from batchcook.recipes.schema import Recipe

_ALT_SPECIAL = re.compile(r"([\\\[\]])")
#: What may stay as it is in a URL link target: reserved characters and ``%`` escapes, not
#: parentheses or spaces.
_URL_SAFE = "/:?#[]@!$&'*+,;=%~"


def image_markdown(alt: str, path: str) -> str:
    """``![alt](path)`` that survives brackets in the alt text and any character in the path.

    ``path`` is relative to the Markdown file, so the two can move together and any viewer
    finds the image; it is percent-encoded, since a space or ``)`` would end the link early
    and ``#`` or ``?`` would be read as part of a URL. An absolute URL (a published photo,
    a Notion cover) is kept as a URL.
    """
    escaped = _ALT_SPECIAL.sub(r"\\\1", alt)
    if urlsplit(path).scheme in ("http", "https", "file"):
        # A URL is already encoded (a signed link's query must stay as it is): only what
        # would end the link early is encoded.
        target = quote(path, safe=_URL_SAFE)
    else:
        target = quote(path, safe="/")
    return f"![{escaped}]({target})"


def recipe_markdown(recipe: Recipe, *, image_path: str | None = None) -> str:
    """A recipe as Markdown, the way it reads on its Notion page, with its photo under the
    title when ``image_path`` (relative to the Markdown file, or a URL) is given."""
    lines = [f"# {recipe.title}", ""]
    if image_path:
        lines += [image_markdown(recipe.title, image_path), ""]
    lines += [recipe.description, "", f"> TL;DR: {recipe.tldr}", ""]
    facts = [(p.name, p.text(recipe)) for p in notion_mapping.PROPERTIES if p.fact]
    lines += [f"- {name}: {value}" for name, value in facts]
    lines += ["", "## Ingredients", ""]
    lines += [f"- **{i.ingredient}** - {i.quantity}" for i in recipe.ingredients]
    lines += ["", "## Nutrition Facts", ""]
    lines += [f"- **{n.item}** - {n.quantity}" for n in recipe.other_nutrition]
    for heading, steps in (
        ("Preparation", recipe.preparation),
        ("Instructions", recipe.instructions),
    ):
        lines += ["", f"## {heading}", ""]
        lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
    return "\n".join(lines) + "\n"
