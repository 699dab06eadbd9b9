"""The standalone printable page: self-contained, escaped, carrying its JSON-LD."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.jsonld import recipe_jsonld
from batchcook.recipes.printable import CSP, data_uri, recipe_html
from batchcook.recipes.schema import Recipe

PIXEL = data_uri(b"\xff\xd8\xff\xe0fake-jpeg", "image/jpeg")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1][0] == "script":
            self.scripts.append(data)
        self.text.append(data)


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    return parsed


def _page(recipe: Recipe, image: str | None = PIXEL) -> tuple[str, dict[str, object]]:
    data = recipe_jsonld(recipe, image_url="https://example.com/x.jpg")
    return recipe_html(recipe, jsonld=data, image_src=image), data


def test_the_page_holds_the_recipe_the_photo_and_the_jsonld() -> None:
    page, data = _page(carbonara())
    parsed = _parse(page)
    text = "".join(parsed.text)
    for expected in ("Pasta Carbonara", "400 g Spaghetti", "Whisk the yolks", "900 mg"):
        assert expected in text
    [img] = [attrs for tag, attrs in parsed.tags if tag == "img"]
    assert img["src"] == PIXEL and img["alt"] == "Pasta Carbonara"
    [script] = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert script["type"] == "application/ld+json"
    assert json.loads(parsed.scripts[0]) == data
    assert page.index("<h2>Preparation</h2>") < page.index("<h2>Instructions</h2>")


def test_nothing_is_loaded_from_elsewhere() -> None:
    parsed = _parse(_page(carbonara())[0])
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "iframe", "object", "embed"), tag
        for name in ("src", "href"):
            assert (attrs.get(name) or "data:").startswith("data:"), (tag, attrs)
    [policy] = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv")]
    assert policy["content"] == CSP and "default-src 'none'" in CSP


def test_recipe_text_is_shown_never_run() -> None:
    hostile = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
    recipe = carbonara().model_copy(
        update={"title": hostile, "description": hostile, "instructions": [hostile]}
    )
    page, data = _page(recipe)
    parsed = _parse(page)
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert [t for t, _ in parsed.tags].count("img") == 1  # ours, not the title's
    assert "".join(parsed.text).count(hostile) == 4  # <title>, heading, description, step
    assert json.loads(parsed.scripts[0]) == data


def test_without_a_photo_there_is_no_img() -> None:
    page, _ = _page(carbonara(), image=None)
    assert "<img" not in page
