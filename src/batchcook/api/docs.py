"""What ``/docs`` shows: request bodies, real status codes and the API key.

The routes read their bodies by hand (so a bad one gets batchcook's own precise 422, not
FastAPI's generic one), which leaves the generated OpenAPI without request schemas. These
models exist for the documentation only; the validation stays in ``batchcook.inputs``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from batchcook.config import Mode


class CreateRecipe(BaseModel):
    prompt: str = Field(description="What to cook.", examples=["make me pasta carbonara"])
    db: str | None = Field(None, description="Notion database id (default: the configured one).")
    mode: Mode | None = Field(None, description="batch, flex or standard (BATCHCOOK_MODE).")
    request_id: str | None = Field(
        None, description="Idempotency key: the same id is the same job.", max_length=100
    )


class BulkItem(BaseModel):
    prompt: str
    mode: Mode | None = None
    request_id: str | None = Field(None, max_length=100)


class BulkCreate(BaseModel):
    prompts: list[str | BulkItem] = Field(description="One job per prompt, all checked first.")
    db: str | None = None
    mode: Mode | None = None
    request_id: str | None = Field(
        None, description="Prompt i becomes job create-<request_id>-<i>.", max_length=100
    )


class ModifyRecipe(BaseModel):
    page_id: str = Field(description="The recipe page's id or URL.")
    request: str = Field(description="What to change.", examples=["make it vegan"])
    mode: Mode | None = None
    request_id: str | None = Field(None, max_length=100)


class Accepted(BaseModel):
    message: str
    job_id: str
    status_url: str


class ProblemDetail(BaseModel):
    message: str
    field: str | None = None
    code: str | None = None


class Problem(BaseModel):
    error: ProblemDetail


BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/api/recipes", "post"): CreateRecipe,
    ("/api/recipes/bulk", "post"): BulkCreate,
    ("/api/jobs/modify", "post"): ModifyRecipe,
}
# Routes that take the API key (all under /api but the two webhooks, which are signed).
UNSIGNED_WEBHOOKS = ("/api/recipes/modify", "/api/openai/webhook")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (401, "Missing or wrong API key"),
        (413, "Body over BATCHCOOK_MAX_BODY_BYTES"),
        (415, "Body is not JSON"),
        (422, "Bad input, or a job that would fail after paying (preflight)"),
        (429, "A budget cap would be passed (code budget_exceeded)"),
        (503, "Notion is not answering"),
    )
}


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_for(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: FastAPI's schema plus the bodies and the API key (the Authorize
    button sends it as a bearer token)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {})
            models = components.setdefault("schemas", {})
            for (path, method), model in BODIES.items():
                operation = schema["paths"][path][method]
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _schema_of(model, models)}},
                }
            components["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "BATCHCOOK_API_KEY"},
                "query_key": {"type": "apiKey", "in": "query", "name": "key"},
            }
            for path, operations in schema["paths"].items():
                if not path.startswith("/api/") or path in UNSIGNED_WEBHOOKS:
                    continue
                for method, operation in operations.items():
                    keys: list[dict[str, list[str]]] = [{"bearer": []}]
                    if method == "get":  # a GET also takes ?key= (phone shortcuts)
                        keys.append({"query_key": []})
                    operation["security"] = keys
            app.openapi_schema = schema
        return app.openapi_schema

    return build


#: What the routes that start jobs declare: 202, the ``Accepted`` body, the error answers.
STARTS_JOBS: dict[str, Any] = {"status_code": 202, "response_model": Accepted, "responses": ERRORS}
