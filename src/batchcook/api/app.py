"""Placeholder for the HTTP API (replaced by the real one on merge): the engine's lifespan and
``GET /healthz`` only, so ``batchcook serve`` has an app to run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from batchcook.config import Settings
from batchcook.workflows import engine


def create_app(settings: Settings, *, worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.launch_async(settings, worker=worker)
        try:
            yield
        finally:
            engine.shutdown()

    app = FastAPI(title="batchcook", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
