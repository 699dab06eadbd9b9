"""The gallery in a real browser (Debian's chromium through Playwright): what a person
sees on ``/``, on a recipe page and on a job page that follows a slow batch by itself."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from batchcook.testing.openai_emulator import BatchPlan
from gallery_helpers import Gallery, wait_for

pytestmark = pytest.mark.backends("sqlite")

PROMPTS = ("pasta carbonara", "miso ramen", "lemon tart")


def test_gallery_shows_every_recipe_with_its_photo_and_the_recipe_page_its_jsonld(
    gallery: Gallery, page: Any
) -> None:
    for job_id in [gallery.create(prompt) for prompt in PROMPTS]:
        assert gallery.wait(job_id)["status"] == "succeeded"
    listed = gallery.store_listing()
    assert len(listed) == len(PROMPTS)

    page.goto(gallery.url)
    for entry in listed:
        assert page.get_by_role("heading", name=entry.recipe.title).is_visible()
    page.wait_for_function("() => [...document.images].every(img => img.complete)")
    widths = page.eval_on_selector_all(".card img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == len(PROMPTS) and all(w > 0 for w in widths), widths
    newest = listed[0]
    first_card = page.locator(".card h3").first.text_content()
    assert first_card == newest.recipe.title  # newest first

    page.get_by_role("heading", name=newest.recipe.title).click()
    page.wait_for_url(f"**/recipes/{newest.id}")
    page.wait_for_function("() => document.querySelector('img.cover').complete")
    assert page.eval_on_selector("img.cover", "img => img.naturalWidth") > 0
    data = json.loads(page.locator('script[type="application/ld+json"]').text_content())
    assert data["@type"] == "Recipe"
    assert data["name"] == newest.recipe.title
    assert len(data["recipeIngredient"]) == len(newest.recipe.ingredients)
    assert data["image"] == f"{gallery.url}/recipes/{newest.id}/image"
    image = httpx.get(data["image"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert page.get_by_role("heading", name="Ingredients").is_visible()
    assert page.get_by_role("button", name="Print").is_visible()  # shown by the script


def test_the_job_page_follows_a_slow_batch_to_the_recipe_without_a_reload(
    gallery: Gallery, page: Any
) -> None:
    gallery.openai.faults.default_batch = BatchPlan(in_progress=600)
    page.goto(gallery.url)
    page.fill("#prompt", "shakshuka")
    page.click("#new-recipe button")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector('#job-status[data-status="generating"]')
    assert page.locator("#job-batches tr").count() == 2
    assert page.locator("#job-result a").count() == 0
    page.evaluate("window.sameDocument = true")  # gone if the page were reloaded

    gallery.openai.advance(600)
    link = page.wait_for_selector("#job-result a")
    assert page.evaluate("window.sameDocument") is True
    assert page.get_attribute("#job-status", "data-status") == "succeeded"
    assert "completed" in page.locator("#job-batches").text_content()
    link.click()
    page.wait_for_url("**/recipes/*")
    (entry,) = gallery.store_listing()
    assert page.locator("h1").text_content() == entry.recipe.title


def test_with_an_api_key_the_form_sends_it_as_a_bearer_header_and_reading_stays_open(
    keyed_gallery: Gallery, page: Any
) -> None:
    gallery = keyed_gallery
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(gallery.url)
    page.fill("#prompt", "pad thai")
    page.fill("#key", "wrong")
    page.click("#new-recipe button")
    message = page.locator("[data-message]")
    wait_for(lambda: "API key" in (message.text_content() or ""), "the refusal")

    page.fill("#key", "web-key-1")
    page.click("#new-recipe button")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector("#job-result a")  # polled /api/jobs/{id} with the stored key
    posts = [r for r in requests if r.method == "POST"]
    assert posts and posts[-1].headers["authorization"] == "Bearer web-key-1"
    assert all("web-key-1" not in r.url for r in requests)

    page.click("#job-result a")
    page.wait_for_url("**/recipes/*")
    assert httpx.get(page.url).status_code == 200  # no key needed to read
