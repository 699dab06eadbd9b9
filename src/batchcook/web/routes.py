"""The gallery's routes, mounted on the API's FastAPI app by ``create_app``.

Reading pages are open even when ``BATCHCOOK_API_KEY`` is set (a recipe is for looking
at); starting a recipe needs the key, sent in a POST body or a bearer header, never in a
URL (URLs end up in logs and browser history). Every page is a Jinja2 template with
autoescape on and a Content-Security-Policy that allows only this origin's CSS and JS: the
recipe text comes from a model and must never become markup.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined

from batchcook import service
from batchcook.api import keys
from batchcook.config import Settings
from batchcook.inputs import InputError, build_job
from batchcook.jobs import TERMINAL_STATUSES, Job
from batchcook.recipes.jsonld import ingredient_line, jsonld_script_tag, recipe_jsonld
from batchcook.stores.base import RecipeNotFound, RecipeStore
from batchcook.stores.local import LocalStore
from batchcook.web import gallery
from batchcook.workflows.runtime import runtime

#: Pages load only what this origin serves; the JSON-LD block is data, not script, so it
#: needs no exception. ``connect-src 'self'`` lets the job page poll ``/api/jobs/{id}``.
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: How often the job page looks again (seconds), by script or by ``<meta refresh>``.
JOB_REFRESH_SECONDS = 2
#: Notion mode lists the pages of this many latest jobs.
NOTION_LISTING = 100


def templates() -> Environment:
    """Autoescape on for every template (not only ``.html``): nothing renders unescaped
    unless a template says ``|safe``, and only the JSON-LD tag does (it escapes itself)."""
    env = Environment(
        loader=PackageLoader("batchcook.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["minutes"] = gallery.minutes
    env.filters["number"] = gallery.number
    env.filters["ingredient"] = ingredient_line
    env.globals["status_labels"] = gallery.STATUS_LABELS
    env.globals["endpoint_labels"] = gallery.ENDPOINT_LABELS
    return env


@asynccontextmanager
async def _store() -> AsyncIterator[RecipeStore]:
    """The configured store for one request, closed after (the Notion store holds a client)."""
    async with runtime().store(None) as store:
        yield store


def web_link(url: str | None) -> str | None:
    """``url`` if it is a web address: a page URL comes from Notion's answer, and an
    escaped ``javascript:`` link would still run when clicked."""
    return url if url and url.startswith(("https://", "http://")) else None


Admit = Callable[[Job], Awaitable[str | None]]


async def _admit_all(job: Job) -> str | None:
    return None


def mount_gallery(app: FastAPI, settings: Settings, admit: Admit = _admit_all) -> None:
    """Add the gallery's pages, its image route and ``/static`` to ``app``. ``admit`` is
    the API's own check before a job starts (the preflight and the budget caps): why the
    job is refused, or None."""
    env = templates()
    static = Path(str(files("batchcook.web") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="gallery_static")

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            request=request,
            url_for=request.url_for,
            key_required=settings.api_key is not None,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def not_found(request: Request, message: str) -> HTMLResponse:
        return page(request, "missing.html", status=404, message=message)

    async def index_page(
        request: Request, query: gallery.Query, status: int = 200, error: str | None = None
    ) -> HTMLResponse:
        async with _store() as store:
            local = isinstance(store, LocalStore)
            entries = await store.list_recipes() if isinstance(store, LocalStore) else []
        shown = gallery.search(entries, query)
        notion_pages: list[Job] = []
        if not local:
            notion_pages = await _notion_pages(query)
        return page(
            request,
            "index.html",
            status=status,
            local=local,
            entries=shown,
            total=len(entries),
            notion_pages=notion_pages,
            query=query,
            meal_types=gallery.MEAL_TYPES,
            diets=gallery.diet_options(entries),
            error=error,
            request_id=uuid.uuid4().hex,
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, name="gallery")
    async def index(request: Request, q: str = "", meal: str = "", diet: str = "") -> Response:
        meal = meal if meal in gallery.MEAL_TYPES else ""
        return await index_page(request, gallery.Query(q.strip()[:200], meal, diet.strip()[:100]))

    @app.post("/new", include_in_schema=False, name="gallery_new")
    async def new_recipe(request: Request) -> Response:
        """The form without JavaScript: the same job-building code as ``POST /api/recipes``,
        then to the job page (303, so a reload does not post again; the form's request id
        makes a second post the same job anyway)."""
        form = await request.form()
        fields = {name: str(form.get(name) or "") for name in ("prompt", "key", "request_id")}
        if not keys.accepts(settings, fields["key"]):
            return await index_page(
                request, gallery.Query(), 401, "Wrong or missing API key (BATCHCOOK_API_KEY)."
            )
        try:
            job = build_job(
                "create", fields["prompt"], settings, request_id=fields["request_id"] or None
            )
        except InputError as error:
            return await index_page(request, gallery.Query(), 422, error.message)
        refused = await admit(job)
        if refused is not None:
            return await index_page(request, gallery.Query(), 422, refused)
        await service.start([job])
        return RedirectResponse(request.url_for("gallery_job", job_id=job.id), status_code=303)

    @app.get("/recipes/{recipe_id}", include_in_schema=False, name="gallery_recipe")
    async def recipe_page(request: Request, recipe_id: str) -> Response:
        async with _store() as store:
            if not isinstance(store, LocalStore):
                return not_found(request, "Recipes filed in Notion are read in Notion.")
            try:
                recipe = await store.read(recipe_id)
                has_image = await store.image_file(recipe_id) is not None
            except RecipeNotFound:
                return not_found(request, "There is no such recipe.")
        image_url = str(request.url_for("recipe_image", recipe_id=recipe_id)) if has_image else None
        tag = jsonld_script_tag(recipe_jsonld(recipe, image_url=image_url))
        return page(request, "recipe.html", recipe=recipe, image_url=image_url, jsonld=tag)

    @app.get("/recipes/{recipe_id}/image", include_in_schema=False, name="recipe_image")
    async def recipe_image(recipe_id: str) -> Response:
        async with _store() as store:
            image = None
            if isinstance(store, LocalStore):
                with suppress(RecipeNotFound):
                    image = await store.read_image(recipe_id)
        if image is None:
            return Response("no image", status_code=404, media_type="text/plain")
        # no-cache: a #modify can replace the photo under the same URL.
        return Response(
            image.data,
            media_type=image.content_type,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/jobs/{job_id}", include_in_schema=False, name="gallery_job")
    async def job_page(request: Request, job_id: str) -> Response:
        try:
            job = await service.read(job_id)
        except service.NoSuchJob:
            return not_found(request, "There is no such job.")
        async with _store() as store:
            local = isinstance(store, LocalStore)
        recipe_href = None
        if job.status == "succeeded" and job.page_id:
            recipe_href = (
                str(request.url_for("gallery_recipe", recipe_id=job.page_id))
                if local
                else web_link(job.page_url)
            )
        return page(
            request,
            "job.html",
            job=job,
            done=job.status in TERMINAL_STATUSES,
            recipe_href=recipe_href,
            recipe_base="/recipes/" if local else "",
            refresh=JOB_REFRESH_SECONDS,
        )


async def _notion_pages(query: gallery.Query) -> list[Job]:
    """With the Notion store the gallery lists the latest jobs' pages (title and link to
    Notion) from the job records: reading recipes back from Notion is not built."""
    jobs = await service.latest("succeeded", NOTION_LISTING)
    seen: set[str] = set()
    pages: list[Job] = []
    words = query.text.casefold().split()
    for job in jobs:
        if not web_link(job.page_url) or not job.page_id or job.page_id in seen:
            continue
        title = (job.title or job.prompt).casefold()
        if all(word in title for word in words):
            seen.add(job.page_id)
            pages.append(job)
    return pages
