"""The ``batchcook`` command line: thin wrappers over the library."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from batchcook import __version__
from batchcook.config import Settings, SettingsError, get_settings
from batchcook.jobs import JOB_STATUSES, Job

app = typer.Typer(
    help="Recipes through the OpenAI Batch API, filed in Notion.", no_args_is_help=True
)
emulate = typer.Typer(help="Run an API emulator for tests and demos.", no_args_is_help=True)
app.add_typer(emulate, name="emulate")
notion = typer.Typer(
    help="Set up the Notion recipe database and its webhook.", no_args_is_help=True
)
app.add_typer(notion, name="notion")


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@emulate.command("openai")
def emulate_openai(
    port: int = typer.Option(8787, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    manual_clock: bool = typer.Option(
        False, help="Freeze time; move it with POST /_emulator/clock {'seconds': N}."
    ),
    phase_seconds: float = typer.Option(
        2.0, help="Seconds each batch spends validating, in progress and finalizing."
    ),
    fixtures: Path | None = typer.Option(
        None,
        help="Canned answers by prompt (JSON or YAML); default: the recipes shipped with "
        "batchcook. Unmatched prompts get schema filler.",
    ),
    no_fixtures: bool = typer.Option(False, help="Answer every prompt with schema filler."),
) -> None:
    """Serve the OpenAI emulator (Files, Batches, Responses, Images) until interrupted."""
    import uvicorn

    from batchcook.testing.openai_emulator import (
        BatchPlan,
        FixturesError,
        ManualClock,
        OpenAIEmulator,
        SystemClock,
        load_fixtures,
        shipped_fixtures,
    )

    try:
        canned = (
            None if no_fixtures else load_fixtures(fixtures) if fixtures else shipped_fixtures()
        )
    except FixturesError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    emu = OpenAIEmulator(clock=ManualClock() if manual_clock else SystemClock(), fixtures=canned)
    emu.faults.default_batch = BatchPlan(
        validating=phase_seconds, in_progress=phase_seconds, finalizing=phase_seconds
    )
    typer.echo(f"OpenAI emulator on http://{host}:{port}/v1 (any bearer key is accepted)")
    typer.echo(f"fixtures: {canned.source if canned else 'none (schema filler only)'}")
    uvicorn.run(emu.app, host=host, port=port, log_level="warning")


@app.command()
def demo(
    prompt: str = typer.Argument("make me pasta carbonara", help="What to cook."),
    fixtures: Path | None = typer.Option(
        None, help="The OpenAI emulator's canned answers (JSON or YAML); default: shipped."
    ),
    keep: bool = typer.Option(
        False, help="Keep the emulators serving afterwards (Ctrl-C stops) to open the page."
    ),
) -> None:
    """Run the main job end to end against the emulated OpenAI and Notion APIs."""
    from batchcook.demo import run_demo
    from batchcook.testing.openai_emulator import FixturesError, load_fixtures

    _settings()  # a bad environment value: one line, not a traceback
    try:
        canned = load_fixtures(fixtures) if fixtures else None
    except FixturesError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run_demo(prompt, canned, keep))


@emulate.command("notion")
def emulate_notion(
    port: int = typer.Option(8790, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    token: str = typer.Option("secret_emulator_token", help="The integration token to accept."),
    rate: float = typer.Option(3.0, help="Requests per second per token; 0 turns it off."),
    plan: str = typer.Option("paid", help="'free' (5 MiB uploads) or 'paid' (5 GiB)."),
) -> None:
    """Serve the Notion emulator, seeded with the recipe database."""
    import uvicorn

    from batchcook.testing.notion_emulator import NotionEmulator

    if plan not in ("free", "paid"):
        raise typer.BadParameter("use 'free' or 'paid'", param_hint="--plan")
    emulator = NotionEmulator(token, plan=plan, rate=rate or None)
    home = emulator.add_page("Home")
    typer.echo(
        f"NOTION_BASE_URL=http://{host}:{port}\nNOTION_TOKEN={token}\n"
        f"NOTION_RECIPES_DATABASE_ID={emulator.recipes_database_id}\n"
        f"NOTION_USER_ID={emulator.user_id}\n"
        f"# pages as text: http://{host}:{port}/_emulator/\n"
        f"# a page shared with the integration: batchcook notion init --parent {home}"
    )
    uvicorn.run(emulator.app, host=host, port=port, log_level="warning")


@notion.command("init")
def notion_init(
    parent: str | None = typer.Option(
        None,
        "--parent",
        metavar="PAGE_ID",
        help="The page to create the database in (its id or link), shared with the integration.",
    ),
    title: str = typer.Option("Recipes", help="The new database's title."),
    as_json: bool = typer.Option(
        False, "--json", help="Print only {database_id, data_source_id, url} as JSON."
    ),
    fix: str | None = typer.Option(
        None,
        "--fix",
        metavar="DATABASE_ID",
        help="Instead of creating one: add what this existing database lacks (id or link).",
    ),
) -> None:
    """Create the recipe database with every property batchcook writes (or, with --fix,
    complete an existing one: missing properties are added, nothing is renamed or deleted).
    Exit 2 when something is for you to fix (token, id, sharing, a property's type)."""
    from batchcook.stores.base import StoreError
    from batchcook.stores.notion import setup

    def fail(*lines: str, code: int = 2) -> NoReturn:
        for line in lines:  # plain echo: one line each, never wrapped or read as markup
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(code)

    if (parent is None) == (fix is None):
        fail(
            "give --parent PAGE_ID to create the recipe database in a page, or --fix "
            "DATABASE_ID to complete an existing one (not both)."
        )
    settings = _settings()

    async def run() -> setup.RecipeDatabase | setup.FixReport:
        target = setup.notion_id(fix, "database") if fix else setup.notion_id(parent or "", "page")
        async with setup.open_store(settings) as store:
            if fix:
                return await setup.fix_database(store, target)
            return await setup.create_database(store, target, title)

    try:
        outcome = asyncio.run(run())
    except setup.SetupError as error:
        fail(*error.lines)
    except StoreError as error:
        fail(str(error), code=1)
    database = outcome if isinstance(outcome, setup.RecipeDatabase) else outcome.database
    if isinstance(outcome, setup.FixReport):
        for note in outcome.notes:
            typer.echo(f"note: {note}", err=True)
    if as_json:
        typer.echo(json.dumps(database.public()))
    else:
        if isinstance(outcome, setup.FixReport):
            added = ", ".join(f"{name!r} ({kind})" for name, kind in outcome.added.items())
            typer.echo(f"Added {added}." if added else "No property was missing.")
        else:
            typer.echo(f"Created the recipe database {title!r}.")
            if settings.notion_recipes_database_id not in (None, "", database.database_id):
                typer.echo(
                    "note: NOTION_RECIPES_DATABASE_ID is set to another database; replace it "
                    "with the line below.",
                    err=True,
                )
        typer.echo(
            f"database id:    {database.database_id}\n"
            f"data source id: {database.data_source_id}\n"
            f"url:            {database.url}\n"
            "Put this line in .env (or the environment):\n"
            f"NOTION_RECIPES_DATABASE_ID={database.database_id}"
        )
    if isinstance(outcome, setup.FixReport) and outcome.problems:
        fail(*outcome.problems)


# --- the service -------------------------------------------------------------------------

SERVER_HELP = "A running batchcook API to submit to (BATCHCOOK_SERVER_URL); else run in-process."
err = Console(stderr=True)


def _settings() -> Settings:
    """The settings, or one line per bad environment variable and exit 2: every command
    reads them here, so none shows a pydantic traceback for a typo in the environment."""
    try:
        return get_settings()
    except SettingsError as error:
        for line in error.lines:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None


def _database_or_exit(settings: Settings) -> None:
    """Stop with one line when the system database cannot be reached, before DBOS prints
    a driver traceback for it."""
    from batchcook.doctor import system_database_check

    check = system_database_check(settings)
    if not check.ok:
        typer.echo(f"error: {check.detail}", err=True)
        raise typer.Exit(2)


@app.command()
def doctor(
    as_json: bool = typer.Option(
        False, "--json", help='Print a list of {"check", "ok", "detail"} as JSON.'
    ),
    on: datetime | None = typer.Option(
        None,
        "--on",
        formats=["%Y-%m-%d"],
        help="Judge model retirements as of this day (YYYY-MM-DD) instead of today.",
    ),
) -> None:
    """Check the setup before paying for anything: keys, URLs, models, image options, the
    Notion database and its properties, webhooks, the system database. Exit 0 when all pass."""
    from batchcook.doctor import run_doctor

    checks = asyncio.run(run_doctor(_settings(), on.date() if on else None))
    if as_json:
        typer.echo(json.dumps([c.public() for c in checks], indent=2))
    else:
        for check in checks:
            typer.echo(f"{'✓' if check.ok else '✗'} {check.check}: {check.detail}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Only enqueue; run no jobs here."),
) -> None:
    """Serve the HTTP API (and, unless --no-worker, run jobs in the same process)."""
    import uvicorn

    from batchcook.api.app import create_app

    settings = _settings()
    _database_or_exit(settings)
    uvicorn.run(create_app(settings, worker=not no_worker, doctor=True), host=host, port=port)


@app.command()
def worker() -> None:
    """Run queued jobs until SIGTERM/SIGINT; a restart resumes the jobs it was running."""
    from batchcook.cli_local import run_worker

    settings = _settings()
    _database_or_exit(settings)
    run_worker(settings, err)


def _submit(
    job_args: dict[str, Any],
    wait: bool,
    as_json: bool,
    server: str | None,
    dry_run: bool = False,
) -> None:
    """Shared by create and modify: validate, run (here or on a server), report, exit."""
    from batchcook.cli_jobs import ServerError, run_on_server
    from batchcook.inputs import InputError, build_job

    settings = _settings()
    try:
        job = build_job(settings=settings, **job_args)
    except InputError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if dry_run:
        _print_estimate([job], settings, as_json)
        return
    url = server or settings.server_url
    if not url:
        _admit_or_exit([job], settings)
    try:
        if url:
            done = asyncio.run(run_on_server(url, settings, job, wait=wait, console=err))
        else:
            from batchcook.cli_local import run_local  # DBOS: only for runs on this database

            done = run_local(settings, job, wait=wait, console=err)
    except ServerError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if url:
            err.print(f"stopped following: job {job.id} goes on on the server.")
        else:
            err.print(
                f"interrupted: job {job.id} is still pending; the next `batchcook worker` or "
                f"`--wait` run on this database resumes it (`batchcook jobs {job.id}` to check)."
            )
        raise typer.Exit(130) from None
    _report(done, wait=wait, as_json=as_json, on_server=bool(url))


def _admit_or_exit(jobs: list[Job], settings: Settings) -> None:
    """Refuse here what would fail after the batches are paid for, and what would pass a
    budget cap (a server does the same on its side): exit 2, or 1 when Notion itself is
    failing."""
    from batchcook import service
    from batchcook.budget import BudgetExceeded

    _database_or_exit(settings)
    try:
        asyncio.run(service.admit(jobs, settings))
    except service.NotReady as refused:
        for problem in refused.problems:
            typer.echo(f"error: {problem.check}: {problem.detail}", err=True)
        raise typer.Exit(1 if refused.outage else 2) from None
    except BudgetExceeded as refused:
        err.print(f"[red]error:[/red] {refused}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _report(job: Job, *, wait: bool, as_json: bool, on_server: bool) -> None:
    if as_json:
        typer.echo(json.dumps(job.public(), indent=2))
    elif not wait:
        typer.echo(job.id)
    if not wait:
        if not on_server:
            err.print(
                f"queued {job.id}: it runs while a worker is running on this database "
                "(`batchcook worker` or `batchcook serve`); follow it with "
                f"`batchcook jobs {job.id}`."
            )
        return
    if job.status == "succeeded":
        if not as_json:
            typer.echo(f"{job.id} succeeded: {job.title or ''} {job.page_url or ''}".rstrip())
        return
    error = job.error.message if job.error else f"job ended {job.status}"
    step = f" (step {job.error.step})" if job.error else ""
    err.print(f"[red]job {job.id} failed{step}:[/red] {error}")
    raise typer.Exit(1)


@app.command()
def create(
    prompt: str | None = typer.Argument(None, help="What to cook."),
    file: str | None = typer.Option(
        None,
        "--file",
        help="Prompts, one a line ('-': standard input): one job each, queued (with --wait: "
        "run here and followed together).",
    ),
    mode: str | None = typer.Option(None, help="batch, flex or standard (BATCHCOOK_MODE)."),
    db: str | None = typer.Option(None, help="Notion database id (NOTION_RECIPES_DATABASE_ID)."),
    request_id: str | None = typer.Option(None, help="Idempotency key: same id, same job."),
    wait: bool = typer.Option(False, "--wait", help="Follow the job(s) until they end."),
    as_json: bool = typer.Option(False, "--json", help="Print the job record as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what it would cost at most; send nothing."
    ),
) -> None:
    """Create a recipe from a prompt (or one per line of --file)."""
    if (prompt is None) == (file is None):
        err.print("[red]error:[/red] give a prompt, or --file with one prompt a line (not both)")
        raise typer.Exit(2)
    if file is not None:
        _submit_file(file, mode, db, request_id, wait, as_json, server, dry_run)
        return
    job = {"kind": "create", "prompt": prompt, "mode": mode, "database_id": db}
    _submit({**job, "request_id": request_id}, wait, as_json, server, dry_run)


def _print_estimate(jobs: list[Job], settings: Settings, as_json: bool) -> None:
    """``--dry-run``: the most the jobs can cost, from the catalog; nothing is sent."""
    from batchcook.budget import estimate_job, summary

    estimates = [estimate_job(job, settings) for job in jobs]
    if as_json:
        typer.echo(json.dumps(summary(estimates), indent=2))
        return
    for job, est in zip(jobs, estimates, strict=True):
        for part in est.parts:
            typer.echo(
                f"{job.prompt[:40]!r:<42} {part.model:<16} {part.tier:<8} "
                f"in {part.input_tokens:>6,} out ≤ {part.output_tokens:>6,}  ≤ ${part.usd:.4f}"
            )
    total = sum(e.usd for e in estimates)
    typer.echo(f"at most ${total:.4f} for {len(jobs)} job(s); dry run: nothing was sent")


def _submit_file(
    path: str,
    mode: str | None,
    db: str | None,
    request_id: str | None,
    wait: bool,
    as_json: bool,
    server: str | None,
    dry_run: bool = False,
) -> None:
    """All the prompts of a file as jobs, validated together first, then queued (or sent);
    with ``--wait``, run (or followed on the server) together until every one has ended."""
    import sys
    from pathlib import Path

    from batchcook.cli_jobs import ServerError, run_bulk_on_server
    from batchcook.inputs import InputError, build_bulk, prompt_lines

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]error:[/red] cannot read {path}: {error}")
        raise typer.Exit(2) from None
    settings = _settings()
    try:
        jobs = build_bulk(
            prompt_lines(text), settings, mode=mode, database_id=db, request_id=request_id
        )
    except InputError as error:
        err.print(f"[red]error:[/red] {path}: {error}")
        raise typer.Exit(2) from None
    if dry_run:
        _print_estimate(jobs, settings, as_json)
        return
    url = server or settings.server_url
    if not url:
        _admit_or_exit(jobs, settings)
    try:
        if url:
            started = asyncio.run(run_bulk_on_server(url, settings, jobs, wait=wait, console=err))
        else:
            from batchcook.cli_local import run_bulk_local  # DBOS: only for local runs

            started = run_bulk_local(settings, jobs, wait=wait, console=err)
    except ServerError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _interrupted(len(jobs), on_server=bool(url))
    if wait:
        _print_records(started, as_json, single=False)
        _exit_if_failed(started)
        return
    ids = [j.id for j in started]
    typer.echo(json.dumps(ids) if as_json else "\n".join(ids))
    where = "on the server" if url else "when a worker runs on this database"
    err.print(
        f"{len(ids)} jobs started {where}; follow them with `batchcook jobs --follow` and "
        "these ids (`… | xargs batchcook jobs --follow`)",
        highlight=False,
        soft_wrap=True,
    )


def _interrupted(count: int, *, on_server: bool) -> NoReturn:
    """Ctrl-C while following jobs this command started: say where they go on; exit 130."""
    if on_server:
        err.print(f"stopped following: the {count} jobs go on on the server.", soft_wrap=True)
    else:
        err.print(
            f"interrupted: the {count} jobs that had not ended are still pending; the next "
            "`batchcook worker` or `--wait` run on this database resumes them "
            "(`batchcook jobs --follow` and their ids to watch them).",
            soft_wrap=True,
        )
    raise typer.Exit(130)


@app.command()
def modify(
    page_id: str = typer.Argument(..., help="The recipe's page id."),
    request: str = typer.Argument(..., help="What to change, e.g. 'make it vegan'."),
    mode: str | None = typer.Option(None, help="batch, flex or standard (BATCHCOOK_MODE)."),
    wait: bool = typer.Option(False, "--wait", help="Follow the job until it ends."),
    as_json: bool = typer.Option(False, "--json", help="Print the job record as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
) -> None:
    """Modify a recipe: regenerate it with the change and update its page."""
    job = {"kind": "modify", "prompt": request, "page_id": page_id, "mode": mode}
    _submit(job, wait, as_json, server)


@app.command()
def jobs(
    job_ids: list[str] | None = typer.Argument(
        None, metavar="[JOB_ID]...", help="Jobs to show, by id; else the latest jobs."
    ),
    status: str | None = typer.Option(None, help="Only jobs in this status."),
    limit: int = typer.Option(20, help="How many jobs to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the job records as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
    follow: bool = typer.Option(
        False,
        "--follow",
        "-f",
        help="Watch these jobs live until every one has ended: counts per status, a progress "
        "bar per batch, each job's estimate and then its cost. Exit 1 if any failed; Ctrl-C "
        "stops watching, not the jobs.",
    ),
) -> None:
    """Show jobs (by id, or the latest), or follow them live until they end."""
    from batchcook.cli_follow import Estimates
    from batchcook.cli_jobs import (
        NoSuchJobs,
        ServerClient,
        ServerError,
        missing_ids,
        select_and_follow,
        select_jobs,
    )

    if status is not None and status not in JOB_STATUSES:
        err.print(
            f"[red]error:[/red] unknown status {status!r}: use one of {', '.join(JOB_STATUSES)}"
        )
        raise typer.Exit(2)
    ids = job_ids or []
    settings = _settings()
    url = server or settings.server_url
    if not url:
        _database_or_exit(settings)

    async def remote() -> list[Job]:
        async with ServerClient(url or "", settings) as client:
            if not follow:
                return await select_jobs(ids, status, limit, client.job, client.jobs)
            return await select_and_follow(
                ids,
                status,
                limit,
                client.job,
                client.jobs,
                err,
                estimate=Estimates(settings),
                interval=1.0,
            )

    try:
        if url:
            found = asyncio.run(remote())
        else:
            from batchcook.cli_local import follow_local, read_jobs_local  # DBOS: local only

            if follow:
                found = follow_local(settings, ids, status, limit, err)
            else:
                found = read_jobs_local(settings, ids, status, limit)
    except ServerError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except NoSuchJobs as unknown:
        _no_such_jobs(unknown.job_ids)
    except KeyboardInterrupt:
        where = "on the server" if url else "in the workers of this database"
        err.print(
            f"stopped following: the jobs go on {where} (nothing was stopped).", soft_wrap=True
        )
        raise typer.Exit(130) from None
    _no_such_jobs(missing_ids(ids, found))
    _print_records(found, as_json, single=len(ids) == 1)
    if not found:
        err.print("no jobs")
    if follow:
        _exit_if_failed(found)


def _no_such_jobs(job_ids: list[str]) -> None:
    """Exit 1 naming each job id that does not exist (nothing when all do)."""
    for job_id in job_ids:
        err.print(f"[red]error:[/red] no job {job_id!r}")
    if job_ids:
        raise typer.Exit(1)


def _print_records(found: list[Job], as_json: bool, *, single: bool) -> None:
    """Job records on standard output: JSON (one object when one job was asked for by id),
    or one line each."""
    if as_json:
        records = [j.public() for j in found]
        typer.echo(json.dumps(records[0] if single and records else records, indent=2))
        return
    for j in found:
        cost = f"${j.cost_usd:.4f}"
        line = f"{j.id}  {j.status:<10} {j.kind:<6} {j.created_at}  {cost}  {j.prompt[:50]!r}"
        if j.page_url:
            line += f"  {j.page_url}"
        if j.error:
            line += f"  error ({j.error.step}): {j.error.message}"
        typer.echo(line)


def _exit_if_failed(found: list[Job]) -> None:
    """After following jobs to their end: exit 1 when any failed, as ``--wait`` does."""
    failed = [j for j in found if j.status == "failed"]
    if failed:
        err.print(f"[red]{len(failed)} of {len(found)} jobs failed[/red]")
        raise typer.Exit(1)


@app.command()
def retry(
    job_id: str = typer.Argument(..., help="The failed job to try again."),
    wait: bool = typer.Option(False, "--wait", help="Follow the new attempt until it ends."),
    as_json: bool = typer.Option(False, "--json", help="Print the job record as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
) -> None:
    """Try a failed job again, reusing every result it paid for (only what is missing is
    generated: the image when only the image failed; nothing when only the page write did)."""
    from batchcook import service
    from batchcook.budget import BudgetExceeded
    from batchcook.cli_follow import Estimates
    from batchcook.cli_jobs import ServerClient, ServerError, follow

    settings = _settings()
    url = server or settings.server_url

    async def remote() -> Job | None:
        async with ServerClient(url or "", settings) as client:
            new_id = await client.retry(job_id)
            if wait:
                return await follow(
                    new_id, client.job, err, estimate=Estimates(settings), interval=1.0
                )
            return await client.job(new_id)

    try:
        if url:
            job = asyncio.run(remote())
        else:
            from batchcook.cli_local import retry_local  # DBOS: only for local runs

            job = retry_local(settings, job_id, wait=wait, console=err)
    except (ServerError, service.NotRetryable, service.NoSuchJob) as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except service.NotReady as refused:
        err.print(f"[red]error:[/red] {refused}", highlight=False, soft_wrap=True)
        raise typer.Exit(1 if refused.outage else 2) from None
    except BudgetExceeded as refused:
        err.print(f"[red]error:[/red] {refused}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if job is None:
        err.print(f"[red]error:[/red] no job {job_id!r}")
        raise typer.Exit(1)
    _report(job, wait=wait, as_json=as_json, on_server=bool(url))


@app.command()
def cancel(
    job_id: str = typer.Argument(..., help="The job to stop."),
    as_json: bool = typer.Option(False, "--json", help="Print the job record as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
) -> None:
    """Stop a running job and cancel its unfinished batches (finished lines stay billed)."""
    from batchcook import service
    from batchcook.cli_jobs import ServerClient, ServerError

    settings = _settings()
    url = server or settings.server_url

    async def remote() -> Job | None:
        async with ServerClient(url or "", settings) as client:
            return await client.cancel(job_id)  # the server answers 409 if it ended

    stopped = True
    try:
        if url:
            job = asyncio.run(remote())
        else:
            from batchcook.cli_local import cancel_local  # DBOS: only for local runs

            job = cancel_local(settings, job_id)
    except ServerError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except service.NoSuchJob:
        job = None
    except service.AlreadyEnded as ended:
        job, stopped = ended.job, False
    if job is None:
        err.print(f"[red]error:[/red] no job {job_id!r}")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(job.public(), indent=2))
    elif stopped:
        typer.echo(f"{job.id} cancelled")
    else:
        typer.echo(f"{job.id} already ended ({job.status}): nothing to cancel")


@app.command()
def costs(
    since: str | None = typer.Option(None, help="Only jobs created on or after YYYY-MM-DD."),
    limit: int = typer.Option(1000, help="How many of the latest jobs to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    server: str | None = typer.Option(None, help=SERVER_HELP),
) -> None:
    """Spend and savings (against the standard price) by day and model."""
    from datetime import date

    from batchcook.cli_jobs import ServerClient, ServerError
    from batchcook.costs import by_day_and_model
    from batchcook.generation.catalog import load_catalog

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        err.print(f"[red]error:[/red] --since {since!r} is not a date: use YYYY-MM-DD")
        raise typer.Exit(2) from None
    settings = _settings()
    url = server or settings.server_url

    async def remote() -> list[Job]:
        async with ServerClient(url or "", settings) as client:
            return await client.jobs(None, min(limit, 200))  # the API lists at most 200

    try:
        if url:
            found = asyncio.run(remote())
        else:
            from batchcook.cli_local import read_jobs_local  # DBOS: only for local runs

            found = read_jobs_local(settings, [], None, limit)
    except ServerError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    rows = by_day_and_model(found, load_catalog(settings.catalog_path), start)
    if as_json:
        typer.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row.day}  {row.model:<18} {row.tier:<8} {row.requests:>5} requests  "
            f"${row.usd:>9.4f}  saved ${row.saved_usd:.4f}"
        )
    total, kept = sum(r.usd for r in rows), sum(r.saved_usd for r in rows)
    typer.echo(f"total ${total:.4f}, saved ${kept:.4f} against the standard price")


@app.command("open")
def open_page(
    item: str | None = typer.Argument(None, help="A recipe id or a job id; else the gallery."),
    server: str | None = typer.Option(
        None, help="The running `batchcook serve` (BATCHCOOK_SERVER_URL; else 127.0.0.1:8000)."
    ),
) -> None:
    """Open the gallery, a recipe page or a job page in the default browser."""
    import webbrowser

    base = (server or _settings().server_url or "http://127.0.0.1:8000").rstrip("/")
    if item is None:
        url = f"{base}/"
    elif item.startswith(("create-", "modify-")):
        url = f"{base}/jobs/{item}"
    else:
        url = f"{base}/recipes/{item}"
    typer.echo(url)
    if not webbrowser.open(url):
        err.print("no browser to open here: open the address above yourself")


# --- Notion -------------------------------------------------------------------------------


@notion.command("webhook-reset")
def notion_webhook_reset() -> None:
    """Forget the saved webhook verification token, so the next handshake is taken.

    A token is never replaced by a request (anyone can send an unsigned handshake): run this
    on the server, then resend the verification from the integration's Webhooks tab.
    """
    from batchcook.stores.notion.webhook import reset_verification_token

    typer.echo(reset_verification_token(_settings()))


@app.command()
def export(
    recipe: str = typer.Argument(
        ..., help="A recipe id (a job's page_id), a Notion page URL, or a job id."
    ),
    fmt: str = typer.Option(
        "jsonld", "--format", "-f", help="jsonld (schema.org Recipe), markdown or html."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output."
    ),
    image_url: str | None = typer.Option(
        None,
        help="Absolute URL of the published image, for the JSON-LD and the Markdown (else "
        "the Notion cover's URL or the image file).",
    ),
) -> None:
    """Write one recipe as JSON-LD, Markdown or a printable HTML page (from Notion when
    NOTION_TOKEN is set, else from the local store)."""
    from batchcook.cli_export import FORMATS, ExportError, export_recipe, modify_job_recipe

    def read_jobs(settings: Settings, ids: list[str], status: str | None, limit: int) -> list[Job]:
        from batchcook.cli_local import read_jobs_local  # DBOS: only for a modify job's id

        return read_jobs_local(settings, ids, status, limit)

    def fail(message: str, code: int) -> NoReturn:
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code)

    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}", 2)
    try:
        settings = _settings()
        lookup = modify_job_recipe(settings, read_jobs)
        done = asyncio.run(
            export_recipe(
                settings, recipe, fmt, output=output, image_url=image_url, job_recipe=lookup
            )
        )
    except ExportError as error:
        fail(str(error), error.exit_code)
    for note in done.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if output is None:
        typer.echo(done.text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(done.text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}; choose another --output", 1)
    err.print(f"wrote {output}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
