"""The gallery's pages over HTTP, without a browser: what search and the filters return,
that recipe text is escaped everywhere, the image route, the form without JavaScript, the
API key rule, and the Notion store's simple listing."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.recipes.fixtures import carbonara, lemon_tart, shakshuka
from batchcook.recipes.schema import Recipe
from batchcook.stores.base import Image, StoredRecipe
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator.content import render_image
from batchcook.testing.server import serve
from batchcook.web.routes import CSP
from gallery_helpers import Gallery, wait_for

pytestmark = pytest.mark.backends("sqlite")


def file(gallery: Gallery, recipe: Recipe, image: bool = True) -> StoredRecipe:
    """A recipe written with the local store's own API (a JPEG photo unless told not)."""
    photo = Image(render_image(recipe.title, 60, 40, "jpeg", 80), "image/jpeg") if image else None
    job = f"seed-{recipe.title}"
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, gallery.store.create(recipe, photo, job_id=job)).result()


def titles(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<h3>(.*?)</h3>", page)]


@pytest.fixture
def three(gallery: Gallery) -> Gallery:
    for recipe in (carbonara(), shakshuka(), lemon_tart()):  # filed in this order
        file(gallery, recipe)
    return gallery


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Lemon Tart", "Shakshuka", "Pasta Carbonara"]),  # newest first
        ({"q": "carbonara"}, ["Pasta Carbonara"]),
        ({"q": "GUANCIALE"}, ["Pasta Carbonara"]),  # an ingredient, any case
        ({"q": "egg"}, ["Lemon Tart", "Shakshuka", "Pasta Carbonara"]),
        ({"q": "egg cumin"}, ["Shakshuka"]),  # every word must match
        ({"meal": "Dessert"}, ["Lemon Tart"]),
        ({"meal": "Lunch"}, ["Shakshuka", "Pasta Carbonara"]),
        ({"diet": "Vegetarian"}, ["Lemon Tart", "Shakshuka"]),
        ({"diet": "gluten free"}, ["Shakshuka"]),  # spelled another way
        ({"diet": "Vegetarian", "meal": "Breakfast", "q": "tomato"}, ["Shakshuka"]),
        ({"q": "sushi"}, []),
        ({"meal": "Brunch"}, ["Lemon Tart", "Shakshuka", "Pasta Carbonara"]),  # unknown: any
    ],
)
def test_search_and_filters(three: Gallery, params: dict[str, str], expected: list[str]) -> None:
    r = httpx.get(f"{three.url}/", params=params)
    assert r.status_code == 200
    assert titles(r.text) == expected
    if not expected:
        assert "No recipe matches" in r.text


def test_the_filters_offer_the_stores_diets_and_keep_the_choice(three: Gallery) -> None:
    page = httpx.get(f"{three.url}/", params={"diet": "Vegetarian", "q": "tart"}).text
    diets = re.findall(r'<option value="([^"]*)"', page.split('id="diet"')[1].split("</select>")[0])
    assert diets == ["", "Gluten-free", "High-protein", "Vegetarian"]
    assert '<option value="Vegetarian" selected>' in page
    assert 'value="tart"' in page


def test_recipe_text_is_escaped_everywhere(gallery: Gallery) -> None:
    evil = carbonara().model_copy(
        update={
            "title": "<img src=x onerror=alert(1)>",
            "description": "</script><script>alert(2)</script>",
            "diet": ['"><b>bold</b>'],
        }
    )
    stored = file(gallery, evil)
    index = httpx.get(f"{gallery.url}/")
    recipe = httpx.get(f"{gallery.url}/recipes/{stored.id}")
    for page in (index, recipe):
        assert page.headers["content-security-policy"] == CSP
        assert "<img src=x" not in page.text and "<b>bold" not in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script>alert(2)" not in recipe.text
    assert recipe.text.count("</script>") == 2  # gallery.js and the JSON-LD block, no more


def test_the_image_route_serves_the_stored_bytes_with_their_type(gallery: Gallery) -> None:
    with_photo = file(gallery, carbonara())
    without = file(gallery, shakshuka(), image=False)
    r = httpx.get(f"{gallery.url}/recipes/{with_photo.id}/image")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content == render_image("Pasta Carbonara", 60, 40, "jpeg", 80)
    assert httpx.get(f"{gallery.url}/recipes/{without.id}/image").status_code == 404
    assert httpx.get(f"{gallery.url}/recipes/nope/image").status_code == 404
    page = httpx.get(f"{gallery.url}/recipes/{without.id}").text
    assert 'class="cover"' not in page and '"image"' not in page
    missing = httpx.get(f"{gallery.url}/recipes/nope")
    assert missing.status_code == 404 and "no such recipe" in missing.text
    assert httpx.get(f"{gallery.url}/jobs/create-nope").status_code == 404


def test_the_form_works_without_javascript(gallery: Gallery) -> None:
    form = {"prompt": "miso ramen", "request_id": "web-form-1"}
    first = httpx.post(f"{gallery.url}/new", data=form)
    again = httpx.post(f"{gallery.url}/new", data=form)  # a second post: the same job
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    job_url = first.headers["location"]
    assert job_url.endswith("/jobs/create-web-form-1")
    running = httpx.get(job_url).text
    assert "miso ramen" in running
    job = gallery.wait("create-web-form-1")
    assert job["status"] == "succeeded"
    done = httpx.get(job_url).text
    assert 'http-equiv="refresh"' not in done  # stops refreshing once the job ended
    assert f'href="{gallery.url}/recipes/{job["page_id"]}"' in done
    empty = httpx.post(f"{gallery.url}/new", data={"prompt": "  "})
    assert empty.status_code == 422 and "empty" in empty.text


def test_the_form_passes_the_same_budget_check_as_the_api(capped_gallery: Gallery) -> None:
    refused = httpx.post(f"{capped_gallery.url}/new", data={"prompt": "bouillabaisse"})
    assert refused.status_code == 422 and "BATCHCOOK_DAILY_BUDGET_USD" in refused.text
    assert capped_gallery.openai.calls == {}


def test_a_running_job_page_refreshes_itself_without_javascript(gallery: Gallery) -> None:
    gallery.openai.faults.default_batch.in_progress = 600
    job_id = gallery.create("slow soup")
    page = httpx.get(f"{gallery.url}/jobs/{job_id}").text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    wait_for(
        lambda: 'data-status="generating"' in httpx.get(f"{gallery.url}/jobs/{job_id}").text,
        "the job to generate",
    )
    gallery.openai.advance(600)
    assert gallery.wait(job_id)["status"] == "succeeded"


def test_with_a_key_reading_is_open_and_starting_needs_the_key(keyed_gallery: Gallery) -> None:
    gallery = keyed_gallery
    stored = file(gallery, carbonara())
    index = httpx.get(f"{gallery.url}/")
    assert index.status_code == 200 and 'type="password"' in index.text
    assert httpx.get(f"{gallery.url}/recipes/{stored.id}").status_code == 200
    assert httpx.get(f"{gallery.url}/recipes/{stored.id}/image").status_code == 200
    for key in ("", "wrong"):
        refused = httpx.post(f"{gallery.url}/new", data={"prompt": "ramen", "key": key})
        assert refused.status_code == 401 and "API key" in refused.text
    assert not gallery.openai.state.batches  # nothing reached OpenAI
    started = httpx.post(f"{gallery.url}/new", data={"prompt": "ramen", "key": "web-key-1"})
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[1]
    assert httpx.get(f"{gallery.url}/jobs/{job_id}").status_code == 200  # open
    assert httpx.get(f"{gallery.url}/api/jobs/{job_id}").status_code == 401  # the API is not
    auth = {"Authorization": "Bearer web-key-1"}
    assert gallery.wait(job_id, headers=auth)["status"] == "succeeded"


@pytest.fixture
def notion_gallery(
    service: Settings, notion_emu: NotionEmulator
) -> Iterator[tuple[str, NotionEmulator]]:
    """The service filing in the Notion emulator (the ``service`` fixture's store)."""
    with serve(create_app(service, manage_engine=False)) as url:
        yield url, notion_emu


def test_with_notion_the_gallery_lists_the_jobs_pages(
    notion_gallery: tuple[str, NotionEmulator],
) -> None:
    url, _ = notion_gallery
    r = httpx.post(f"{url}/api/recipes", json={"prompt": "pasta carbonara"})
    job_id = r.json()["job_id"]
    job = wait_for(
        lambda: (j := httpx.get(f"{url}/api/jobs/{job_id}").json())["status"] == "succeeded" and j,
        "the job",
    )
    index = httpx.get(f"{url}/").text
    assert f'<a href="{html.escape(job["page_url"])}" rel="noopener">{job["title"]}</a>' in index
    assert "Pasta" not in httpx.get(f"{url}/", params={"q": "sushi"}).text.split("</form>")[-1]
    page = httpx.get(f"{url}/recipes/{job['page_id']}")
    assert page.status_code == 404 and "read in Notion" in page.text
    job_page = httpx.get(f"{url}/jobs/{job_id}").text
    assert f'href="{html.escape(job["page_url"])}"' in job_page
