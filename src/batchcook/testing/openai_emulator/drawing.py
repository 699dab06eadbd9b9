"""Draw a fixture's dish with Pillow: a table, a plate or bowl, the sauce, then the food.

Not a photo, and not meant to pass for one: a picture that reads as "a plate of carbonara"
(noodle strands, cubes of guanciale, pecorino flakes, pepper) when the demo saves the cover,
instead of random circles. Deterministic: the same prompt draws the same image.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from batchcook.testing.openai_emulator.fixtures import Drawing, Food

# Default size of one piece, relative to the plate's radius.
_SIZES = {
    "strands": 0.55,
    "cubes": 0.07,
    "flakes": 0.05,
    "dots": 0.012,
    "leaves": 0.07,
    "rings": 0.06,
    "blob": 0.3,
}


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (
        min(255, int(rgb[0] * factor)),
        min(255, int(rgb[1] * factor)),
        min(255, int(rgb[2] * factor)),
    )


def draw_dish(drawing: Drawing, width: int, height: int, rng: random.Random) -> Image.Image:
    """The dish centred on the table, filling about two thirds of the shorter side."""
    image = Image.new("RGB", (width, height), _rgb(drawing.table))
    draw = ImageDraw.Draw(image)
    cx, cy = width / 2, height / 2
    r = min(width, height) * 0.42
    # The wood (or cloth) grain: a few darker lines across the table.
    grain = _shade(_rgb(drawing.table), 0.88)
    for i in range(1, 12):
        y = height * i / 12 + rng.uniform(-4, 4)
        draw.line((0, y, width, y + rng.uniform(-8, 8)), fill=grain, width=max(1, height // 200))
    vessel = _rgb(drawing.vessel_color)
    # A soft shadow, then the vessel and its rim.
    shadow = _shade(_rgb(drawing.table), 0.7)
    off = r * 0.04
    if drawing.vessel == "dish":
        box = (cx - r * 1.15 + off, cy - r * 0.8 + off, cx + r * 1.15 + off, cy + r * 0.8 + off)
        draw.rounded_rectangle(box, radius=r * 0.2, fill=shadow)
        box = (cx - r * 1.15, cy - r * 0.8, cx + r * 1.15, cy + r * 0.8)
        draw.rounded_rectangle(box, radius=r * 0.2, fill=vessel)
        inner = (cx - r, cy - r * 0.66, cx + r, cy + r * 0.66)
        if drawing.base:
            draw.rounded_rectangle(inner, radius=r * 0.12, fill=_rgb(drawing.base))
        food_r = r * 0.62
    else:
        draw.ellipse((cx - r + off, cy - r + off, cx + r + off, cy + r + off), fill=shadow)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=vessel)
        rim = 0.78 if drawing.vessel == "plate" else 0.86
        draw.ellipse(
            (cx - r * rim, cy - r * rim, cx + r * rim, cy + r * rim),
            outline=_shade(vessel, 0.9),
            width=max(1, int(r * 0.015)),
        )
        base_r = r * (0.55 if drawing.vessel == "plate" else 0.82)
        if drawing.base:
            draw.ellipse(
                (cx - base_r, cy - base_r, cx + base_r, cy + base_r), fill=_rgb(drawing.base)
            )
        food_r = base_r * 0.95
    for food in drawing.food:
        _draw_food(draw, food, cx, cy, food_r, r, rng)
    return image


def _spot(cx: float, cy: float, radius: float, rng: random.Random) -> tuple[float, float]:
    """A point within the food area, denser towards the middle as food is heaped."""
    angle = rng.uniform(0, 2 * math.tau)
    dist = radius * math.sqrt(rng.random()) * 0.92
    return cx + dist * math.cos(angle), cy + dist * math.sin(angle)


def _draw_food(
    draw: ImageDraw.ImageDraw,
    food: Food,
    cx: float,
    cy: float,
    area: float,
    plate: float,
    rng: random.Random,
) -> None:
    colour = _rgb(food.color)
    size = plate * (food.size or _SIZES[food.shape])
    for _ in range(food.count):
        if food.shape == "strands":
            # A noodle: a curved arc through the heap, kept inside the plate's well.
            x, y = _spot(cx, cy, area * 0.4, rng)
            span = min(size, area * 0.55) * rng.uniform(0.5, 1.0)
            start = rng.uniform(0, 360)
            draw.arc(
                (x - span, y - span * 0.6, x + span, y + span * 0.6),
                start,
                start + rng.uniform(90, 200),
                fill=colour,
                width=max(2, int(plate * 0.02)),
            )
            continue
        x, y = _spot(cx, cy, area, rng)
        if food.shape == "cubes":
            s = size * rng.uniform(0.8, 1.2)
            draw.rounded_rectangle(
                (x - s, y - s * 0.7, x + s, y + s * 0.7), radius=s * 0.3, fill=colour
            )
        elif food.shape == "flakes":
            s = size * rng.uniform(0.6, 1.2)
            points = [
                (
                    x + s * math.cos(a) * rng.uniform(0.5, 1.0),
                    y + s * math.sin(a) * rng.uniform(0.5, 1.0),
                )
                for a in (i * math.tau / 5 + rng.uniform(0, 0.5) for i in range(5))
            ]
            draw.polygon(points, fill=colour)
        elif food.shape == "dots":
            s = max(1.5, size * rng.uniform(0.7, 1.3))
            draw.ellipse((x - s, y - s, x + s, y + s), fill=colour)
        elif food.shape == "leaves":
            s = size * rng.uniform(0.8, 1.2)
            a = rng.uniform(0, math.tau)
            dx, dy = math.cos(a) * s, math.sin(a) * s
            px, py = -dy * 0.45, dx * 0.45
            draw.polygon(
                [(x - dx, y - dy), (x + px, y + py), (x + dx, y + dy), (x - px, y - py)],
                fill=colour,
            )
        elif food.shape == "rings":
            s = size * rng.uniform(0.8, 1.1)
            draw.ellipse((x - s, y - s, x + s, y + s), fill=colour)
            draw.ellipse(
                (x - s * 0.45, y - s * 0.45, x + s * 0.45, y + s * 0.45), fill=_shade(colour, 1.15)
            )
        else:  # blob: one large dollop off-centre (custard, cream)
            s = size
            bx, by = cx + area * 0.35, cy - area * 0.3
            draw.ellipse((bx - s, by - s * 0.8, bx + s, by + s * 0.8), fill=colour)
