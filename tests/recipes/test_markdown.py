"""The recipe as Markdown: the image link must hold whatever the title and path contain."""

from __future__ import annotations

from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.markdown import image_markdown, recipe_markdown


def test_image_under_the_title() -> None:
    text = recipe_markdown(carbonara(), image_path="../images/abc.jpg")
    assert text.startswith("# Pasta Carbonara\n\n![Pasta Carbonara](../images/abc.jpg)\n\nSilky")
    assert "![" not in recipe_markdown(carbonara())


def test_brackets_in_the_alt_text_are_escaped() -> None:
    assert image_markdown("Eggs [soft] \\ toast", "a.jpg") == r"![Eggs \[soft\] \\ toast](a.jpg)"


def test_the_path_cannot_end_the_link_early() -> None:
    link = image_markdown("x", "../my photos/pie (1)#2?.jpg")
    assert link == "![x](../my%20photos/pie%20%281%29%232%3F.jpg)"


def test_a_url_stays_a_url() -> None:
    """A signed link's query is already encoded and must reach the server as it is."""
    signed = "https://files.example/a/pie (1).jpg?X-Amz-Signature=ab%2Fc&X-Amz-Expires=3600"
    link = image_markdown("x", signed)
    assert link == (
        "![x](https://files.example/a/pie%20%281%29.jpg?X-Amz-Signature=ab%2Fc&X-Amz-Expires=3600)"
    )
