"""Cost before paying: a job's estimate, and the daily and monthly caps.

Nothing here spends money. ``estimate_job`` prices a job's requests from the catalog (an
upper bound: the recipe's output budget counts in full). ``admit`` refuses a job whose
estimate would take the day's or month's spend (UTC) past BATCHCOOK_DAILY_BUDGET_USD or
BATCHCOOK_MONTHLY_BUDGET_USD, counting finished jobs' actual costs and running jobs'
estimates, and otherwise reserves the estimate — before any request reaches OpenAI.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from batchcook.config import Settings
from batchcook.errors import BatchcookError
from batchcook.generation.catalog import load_catalog
from batchcook.generation.estimate import Estimate, estimate, tiers_for
from batchcook.generation.requests import job_requests
from batchcook.jobs import Job
from batchcook.recipes.prompts import (
    SYSTEM_INSTRUCTIONS,
    image_prompt,
    modification_prompt,
    modified_image_prompt,
)
from batchcook.recipes.schema import Recipe
from batchcook.workflows import spend

# A modification sends the current recipe as JSON; before reading the page, assume one of
# this size (a typical generated recipe is 2–4 kB).
TYPICAL_RECIPE_CHARS = 4000


class BudgetExceeded(BatchcookError):
    """The job would pass a spending cap; nothing was sent (API 429, CLI exit 2)."""

    code = "budget_exceeded"


def estimate_job(job: Job, settings: Settings) -> Estimate:
    if job.kind == "modify":
        prompt = modification_prompt("x" * TYPICAL_RECIPE_CHARS, job.prompt)
        picture = modified_image_prompt("the recipe", job.prompt)
    else:
        prompt, picture = job.prompt, image_prompt(job.prompt)
    requests = job_requests(job.id, prompt, SYSTEM_INSTRUCTIONS, Recipe, picture, settings)
    return estimate(
        list(requests), tiers_for(job.mode, settings), load_catalog(settings.catalog_path)
    )


def summary(estimates: list[Estimate]) -> dict[str, Any]:
    """A dry run as the API and ``--dry-run --json`` print it."""
    return {
        "usd_at_most": round(sum(e.usd for e in estimates), 6),
        "estimates": [e.public() for e in estimates],
    }


def periods(now: float) -> dict[str, float]:
    """Start (epoch seconds, UTC) of the day and of the month that ``now`` falls in."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"daily": day.timestamp(), "monthly": day.replace(day=1).timestamp()}


def capped(settings: Settings) -> bool:
    return bool(settings.daily_budget_usd or settings.monthly_budget_usd)


def admit(jobs: list[Job], settings: Settings, *, now: float | None = None) -> None:
    """Check the caps for ``jobs`` together and reserve their estimates; raises
    BudgetExceeded (reserving nothing) when they would pass a cap. A job admitted before
    (the same request id again) is not counted twice. Without caps it does nothing: every
    create passes here, and an estimate nobody checks is wasted work."""
    caps = {"daily": settings.daily_budget_usd, "monthly": settings.monthly_budget_usd}
    if not capped(settings):
        return
    estimates = [estimate_job(job, settings) for job in jobs]
    url = settings.database()
    seen = spend.known(url, [job.id for job in jobs])
    fresh = [(j, e) for j, e in zip(jobs, estimates, strict=True) if j.id not in seen]
    needed = sum(e.usd for _, e in fresh)
    at = time.time() if now is None else now
    for name, since in periods(at).items():
        cap = caps[name]
        if cap is None or not fresh:
            continue
        spent = spend.spent_since(url, since)
        if spent + needed > cap:
            variable = f"BATCHCOOK_{name.upper()}_BUDGET_USD"
            when = "today" if name == "daily" else "this month"
            raise BudgetExceeded(
                f"refused: {variable} is ${cap:.2f}; {when} ${spent:.4f} is spent or reserved, "
                f"and {'this job' if len(fresh) == 1 else f'these {len(fresh)} jobs'} may cost "
                f"up to ${needed:.4f}. Nothing was sent to OpenAI; raise the cap or wait."
            )
    for job, est in fresh:
        spend.reserve(url, job.id, est.usd, at)
