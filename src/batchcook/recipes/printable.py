"""A recipe as one standalone HTML page to read, print or archive, as a pure function.

Standalone means one file that still works offline in ten years: the photo is inlined as a
``data:`` URI, the CSS is inline, nothing is fetched (a Content-Security-Policy says so to the
browser too), and the schema.org JSON-LD is embedded so recipe managers can import the page
itself. Every piece of recipe text is HTML-escaped: it comes from a model, and a title like
``<img onerror=…>`` must show as text.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from batchcook.recipes.jsonld import ingredient_line, jsonld_script_tag
from batchcook.recipes.schema import Recipe

#: Images from ``data:`` URIs, inline styles, nothing else: no scripts run, nothing loads.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 16px/1.5 Georgia, 'Times New Roman', serif; color: #222; margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.75rem 0 0.5rem; border-bottom: 1px solid #ddd; }
img { display: block; width: 100%; height: auto; border-radius: 6px; margin: 0 0 1rem; }
.tldr { font-style: italic; border-left: 3px solid #c60; margin: 1rem 0; padding-left: 1rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; }
.facts dt { font-weight: bold; } .facts dd { margin: 0; }
table { border-collapse: collapse; } td { padding: 0.15rem 1rem 0.15rem 0; }
ol li, ul li { margin-bottom: 0.35rem; }
@media print {
  body { font-size: 11pt; } main { max-width: none; padding: 0; }
  img { max-height: 9cm; width: auto; max-width: 100%; }
  h2 { break-after: avoid; } li, tr { break-inside: avoid; }
}
""".strip()


def data_uri(data: bytes, content_type: str) -> str:
    """Bytes as a ``data:`` URI, so the page carries its photo inside."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _list(tag: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return [f"<{tag}>", *(f"  <li>{escape(item)}</li>" for item in items), f"</{tag}>"]


def recipe_html(recipe: Recipe, *, jsonld: dict[str, Any], image_src: str | None) -> str:
    """The whole page. ``image_src`` should be a ``data:`` URI (see ``data_uri``): the
    page's policy blocks any other source, which is what keeps it standalone."""
    title = escape(recipe.title)
    facts = [
        ("Country of origin", recipe.country),
        ("Difficulty", recipe.difficulty),
        ("Preparation", f"{recipe.prep_time} min"),
        ("Cooking", f"{recipe.cook_time} min"),
        ("Serves", recipe.serving_size),
        ("Meal", ", ".join(recipe.meal_type)),
        ("Diet", ", ".join(recipe.diet)),
        ("Allergens", ", ".join(recipe.allergies)),
        ("Protein source", ", ".join(p for p in recipe.protein_type if p != "None")),
    ]
    nutrition = [
        ("Calories", f"{recipe.calories:g} kcal"),
        ("Protein", f"{recipe.protein:g} g"),
        ("Carbohydrates", f"{recipe.carbs:g} g"),
        ("Fat", f"{recipe.fat:g} g"),
        ("Fiber", f"{recipe.fiber:g} g"),
        *((n.item, n.quantity) for n in recipe.other_nutrition),
    ]
    body = [f"<h1>{title}</h1>"]
    if image_src:
        body.append(f'<img src="{escape(image_src)}" alt="{title}">')
    if recipe.description.strip():
        body.append(f"<p>{escape(recipe.description)}</p>")
    if recipe.tldr.strip():
        body.append(f'<p class="tldr">{escape(recipe.tldr)}</p>')
    body.append('<dl class="facts">')
    body += [
        f"  <dt>{escape(name)}</dt><dd>{escape(value)}</dd>"
        for name, value in facts
        if value.strip()
    ]
    body.append("</dl>")
    if recipe.ingredients:
        body.append("<h2>Ingredients</h2>")
        body += _list("ul", [ingredient_line(i) for i in recipe.ingredients])
    for heading, steps in (
        ("Preparation", recipe.preparation),
        ("Instructions", recipe.instructions),
    ):
        if steps:
            body.append(f"<h2>{heading}</h2>")
            body += _list("ol", steps)
    body.append("<h2>Nutrition per serving</h2>")
    body.append("<table>")
    body += [f"  <tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in nutrition]
    body.append("</table>")
    head = [
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{STYLE}\n</style>",
        jsonld_script_tag(jsonld),
    ]
    lines = ["<!DOCTYPE html>", "<html>", "<head>", *head, "</head>", "<body>", "<main>"]
    lines += [*body, "</main>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
