"""The words we send: system instructions and the image prompt. Pure functions, no I/O."""

from __future__ import annotations

SYSTEM_INSTRUCTIONS = (
    "You are a recipe writer. From the user's request, write one complete recipe that is "
    "clear, concise and easy to follow for a home cook. Use metric units with common "
    "kitchen measures where natural. Steps are short imperative sentences without numbers. "
    "Tags (diet, allergies) are one or two words each. Nutrition is per serving."
)

IMAGE_STYLE = (
    "Professional food photography of the finished dish, plated, natural light, shallow "
    "depth of field. No text, no labels, no people, no hands."
)


def image_prompt(dish: str) -> str:
    """The user's words plus a fixed style line, so the image can be requested in parallel
    with the recipe (it cannot wait for the recipe's title)."""
    return f"{dish.strip()}. {IMAGE_STYLE}"


def modification_prompt(current_json: str, request: str) -> str:
    """The whole current recipe plus the user's change: the model returns the complete
    updated recipe (not a diff) and says what changed in ``change_description``."""
    return (
        "Here is an existing recipe as JSON:\n"
        f"{current_json}\n\n"
        f"Change it as follows: {request.strip()}\n\n"
        "Return the complete updated recipe with every field filled in, keeping what the "
        "change does not touch. Put one sentence describing what changed in "
        "change_description."
    )


def modified_image_prompt(title: str, request: str) -> str:
    """Describe the dish, not only the change: "make it vegan" alone draws nonsense."""
    return image_prompt(f"{title}, changed as follows: {request.strip()}")
