"""Which image sizes a GPT image model takes, checked before a job pays for its text.

The Images API refuses a bad size per request, so in a batch the recipe is paid for and only
the photo line fails. These are the rules the API applies (the emulator enforces the same in
``testing/openai_emulator/validation.py``): gpt-image-2 takes any ``WIDTHxHEIGHT`` in
multiples of 16, within 3:1 and 3840x2160; the older GPT image models take three sizes.
"""

from __future__ import annotations

import re

FIXED_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
_SIZE = re.compile(r"(\d+)x(\d+)")


def flexible_sizes(model: str) -> bool:
    return model.startswith("gpt-image-2")


def size_problem(model: str, size: str) -> str | None:
    """Why ``model`` refuses ``size`` (what to use instead), or None when it takes it."""
    if size == "auto":
        return None
    if not flexible_sizes(model):
        if size in FIXED_SIZES:
            return None
        return f"{model} takes only {', '.join(FIXED_SIZES)}"
    match = _SIZE.fullmatch(size)
    if match is None:
        return "use WIDTHxHEIGHT (e.g. 1536x1024) or auto"
    w, h = int(match[1]), int(match[2])
    if w <= 0 or h <= 0 or w % 16 or h % 16:
        return f"{model} needs both sides multiples of 16 (e.g. 1536x1024)"
    if max(w, h) > 3 * min(w, h):
        return f"{model} needs a ratio within 3:1"
    if max(w, h) > 3840 or min(w, h) > 2160:
        return f"{model} takes at most 3840x2160"
    return None
