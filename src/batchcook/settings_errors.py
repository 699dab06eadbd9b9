"""A bad environment value as one line naming the variable, not a pydantic traceback.

A person's first run usually fails on configuration. pydantic names the field it could not
read; the person set an environment variable, so each problem is reported under that name
(``BATCHCOOK_MODE: 'turbo' is not one of batch, flex, standard``). Secrets are never echoed,
and a database URL is shown without its password.
"""

from __future__ import annotations

import re
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, SecretStr, ValidationError

from batchcook.config import Settings


class SettingsError(ValueError):
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


def env_names() -> dict[str, tuple[str, str]]:
    """Every name a setting is read under (lower case) → (field, its environment variable)."""
    names: dict[str, tuple[str, str]] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = (
            [c for c in alias.choices if isinstance(c, str)]
            if isinstance(alias, AliasChoices)
            else []
        )
        env = choices[0] if choices else field.upper()
        for name in [field, *choices]:
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
