"""Every setting batchcook reads, in one place.

Each field maps to one environment variable (documented in the README's Configuration
table). Nothing else in the package reads ``os.environ``: code takes a ``Settings`` so tests
and library users can pass their own.
"""

from __future__ import annotations

import re
import types
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from croniter import croniter
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from batchcook.errors import BatchcookError
from batchcook.generation.image_options import size_problem

Mode = Literal["batch", "flex", "standard"]
DATABASE_SCHEMES = ("postgresql://", "postgresql+psycopg://", "sqlite:///")
ImageFormat = Literal["png", "jpeg", "webp"]
ImageQuality = Literal["low", "medium", "high", "auto"]


ENV_PREFIX = "BATCHCOOK_"


class Settings(BaseSettings):
    """Configuration from the environment (and an optional ``.env`` file)."""

    # A setting is read from BATCHCOOK_<NAME>, except where an alias names the variable the
    # service it configures already uses (OPENAI_API_KEY, NOTION_TOKEN, DBOS__VMID...).
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True
    )

    # --- OpenAI -----------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    openai_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_WEBHOOK_SECRET", "openai_webhook_secret"),
    )

    # --- Generation -------------------------------------------------------------------
    mode: Mode = Field(default="batch")
    text_model: str = Field(default="gpt-5.6-luna")
    image_model: str = Field(default="gpt-image-2")
    image_size: str = Field(default="1536x1024")
    image_quality: ImageQuality = Field(default="medium")
    image_format: ImageFormat = Field(default="jpeg")
    image_compression: int = Field(
        default=80,
        ge=0,
        le=100,
    )
    poll_interval: float = Field(
        default=10.0,
        gt=0,
    )
    poll_timeout: float = Field(default=300.0, gt=0)
    # With OpenAI webhooks on, an ended batch wakes its follower at once: polling is only the
    # safety net for a lost event, so it runs this seldom (and the foreground wait does not
    # poll every poll_interval).
    webhook_poll_interval: float = Field(default=1800.0, gt=0)
    max_output_tokens: int = Field(
        default=16000,
        ge=16,
    )
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        default="low",
    )
    flex_image: Literal["batch", "standard"] = Field(default="batch")
    openai_max_retries: int = Field(
        default=5,
        ge=0,
    )
    on_timeout: Literal["continue", "fallback", "fail"] = Field(default="continue")
    max_poll_interval: float = Field(
        default=300.0,
        gt=0,
    )
    max_retries: int = Field(default=2, ge=0)
    step_pauses: tuple[float, ...] = Field(
        default=(10.0, 60.0, 300.0),
    )
    batch_window: float = Field(
        default=2.0,
        ge=0,
        le=3600,
    )
    # A round gathers past its window while parts keep arriving (a burst that several
    # processes start over longer than a window), up to this many seconds in all.
    batch_window_max: float = Field(
        default=30.0,
        ge=0,
        le=3600,
    )
    file_ttl: int = Field(
        default=3 * 86400,
        ge=3600,
        le=30 * 86400,
    )
    delete_files: bool = Field(default=False)
    catalog_path: Path | None = Field(
        default=None, validation_alias=AliasChoices("BATCHCOOK_CATALOG", "catalog_path")
    )

    # --- Service ----------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
    )
    app_version: str = Field(default="1")
    database_pool_size: int = Field(
        default=20,
        ge=1,
    )
    worker_concurrency: int = Field(
        default=1000,  # a job waiting on its batches holds a slot, asleep: size for waiting
        ge=1,
    )
    job_start_rate: float = Field(
        default=0.0,
        ge=0,
    )
    # In `serve` (API and jobs in one process) a job waits up to this long to start while
    # requests are being answered: the API answers first (workflows/intake.py).
    api_priority_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
    )
    queue_poll_seconds: float = Field(
        default=1.0,
        gt=0,
    )
    executor_id: str = Field(
        default="local",
        min_length=1,
        # DBOS's own name for it, kept: deployments already set it per process.
        validation_alias=AliasChoices("DBOS__VMID", "executor_id"),
    )
    executor_timeout: float = Field(
        default=60.0,
        gt=0,
    )
    sweep_schedule: str = Field(
        default="0 * * * * *",
    )
    sweep_full_every: float = Field(
        default=3600.0,
        gt=0,
    )
    sweep_recent: float = Field(default=600.0, gt=0)
    max_prompt_chars: int = Field(
        default=2000,
        ge=1,
    )
    api_key: SecretStr | None = Field(default=None)
    install_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
    )
    daily_budget_usd: float | None = Field(
        default=None,
        gt=0,
    )
    monthly_budget_usd: float | None = Field(
        default=None,
        gt=0,
    )
    max_bulk_prompts: int = Field(
        default=1000,
        ge=1,
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
    )
    webhook_max_age: float = Field(
        default=86_400,
        gt=0,
    )
    server_url: str | None = Field(default=None)
    metrics_job_window: int = Field(default=1000, ge=1)
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
    )
    metrics_host: str = Field(
        default="127.0.0.1",
    )
    notion_verification_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NOTION_VERIFICATION_TOKEN", "notion_verification_token"),
    )

    # --- Storage ----------------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"))

    # --- Notion (the local store is used when no token is set) --------------------------
    notion_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NOTION_TOKEN", "notion_token")
    )
    notion_recipes_database_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NOTION_RECIPES_DATABASE_ID", "notion_recipes_database_id"),
    )
    notion_user_id: str | None = Field(
        default=None, validation_alias=AliasChoices("NOTION_USER_ID", "notion_user_id")
    )
    notion_base_url: str = Field(
        default="https://api.notion.com",
        validation_alias=AliasChoices("NOTION_BASE_URL", "notion_base_url"),
    )
    notion_job_property: str = Field(
        default="Batchcook Job",
    )
    notion_requests_per_second: float = Field(
        default=3.0,
        gt=0,
    )
    notion_max_retries: int = Field(
        default=6,
        ge=0,
    )
    notion_retry_delay: float = Field(
        default=1.0,
        ge=0,
    )
    notion_max_retry_after: float = Field(
        default=120.0,
        ge=0,
    )

    @field_validator("image_size")
    @classmethod
    def _image_size_for_model(cls, size: str, info: ValidationInfo) -> str:
        # Checked here, not when the image line fails after the recipe is paid for.
        problem = size_problem(str(info.data.get("image_model", "")), size)
        if problem:
            raise ValueError(problem)
        return size

    @field_validator("sweep_schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        # DBOS only logs a bad crontab once a worker starts, and then never sweeps.
        if schedule and not croniter.is_valid(schedule, second_at_beginning=True):
            raise ValueError(
                "not a cron expression: use six fields with seconds first, e.g. "
                "'0 * * * * *' (every minute), or empty to turn the sweep off"
            )
        return schedule

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, url: str | None) -> str | None:
        if url and not url.startswith(DATABASE_SCHEMES):
            raise ValueError(
                "use postgresql://user:password@host:5432/db or sqlite:///path/to/file.sqlite"
            )
        return url

    def database(self) -> str:
        """The DBOS system database: Postgres by URL, else SQLite under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'batchcook.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment. A bad value raises
    ``SettingsError`` naming each variable to fix."""
    return load_settings()


# A bad environment value as one line naming the variable, not a pydantic traceback. A
# person's first run usually fails on configuration. pydantic names the field it could not
# read; the person set an environment variable, so each problem is reported under that name
# (``BATCHCOOK_MODE: 'turbo' is not one of batch, flex, standard``). Secrets are never
# echoed, and a database URL is shown without its password.


class SettingsError(BatchcookError, ValueError):
    """The environment holds values batchcook cannot use; ``lines`` has one per variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**values: Any) -> Settings:
    """``Settings(**values)``, with every bad value reported as a ``SettingsError``."""
    try:
        return Settings(**values)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def env_var(field: str) -> str:
    """The environment variable a setting is read from."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return next(c for c in alias.choices if isinstance(c, str))
    return ENV_PREFIX + field.upper()


def env_names() -> dict[str, tuple[str, str]]:
    """Every name a setting is read under (lower case) → (field, its environment variable)."""
    names: dict[str, tuple[str, str]] = {}
    for field in Settings.model_fields:
        env = env_var(field)
        for name in (field, env):
            names[name.lower()] = (field, env)
    return names


def describe(error: ValidationError) -> list[str]:
    names = env_names()
    lines = []
    for item in error.errors():
        where = str(item["loc"][0]) if item["loc"] else ""
        field, env = names.get(where.lower(), (where, where or "settings"))
        lines.append(f"{env}: {_problem(field, item)}")
    return lines


def _problem(field: str, item: Any) -> str:
    info = Settings.model_fields.get(field)
    value = item.get("input")
    secret = info is not None and _is_secret(info.annotation)
    if item["type"] == "literal_error" and info is not None and not secret:
        choices = ", ".join(str(c) for c in _literal_choices(info.annotation))
        return f"{value!r} is not one of {choices}"
    message = str(item["msg"])
    message = message.removeprefix("Value error, ")
    message = re.sub(r"^Input should be", "should be", message)
    if secret or not isinstance(value, str | int | float):
        return message
    shown = without_password(value) if field == "database_url" else value
    return f"{shown!r}: {message}"


def without_password(value: Any) -> Any:
    """A connection URL (or a driver's message quoting one) with its password masked."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value) if isinstance(value, str) else value


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _literal_choices(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        return [c for arg in get_args(annotation) for c in _literal_choices(arg)]
    return []
