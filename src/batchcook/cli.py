"""The ``batchcook`` command line: thin wrappers over the library."""

from __future__ import annotations

import typer

from batchcook import __version__

app = typer.Typer(
    help="Recipes through the OpenAI Batch API, filed in Notion.", no_args_is_help=True
)
emulate = typer.Typer(help="Run an API emulator for tests and demos.", no_args_is_help=True)
app.add_typer(emulate, name="emulate")


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
) -> None:
    """Serve the OpenAI emulator (Files, Batches, Responses, Images) until interrupted."""
    import uvicorn

    from batchcook.testing.openai_emulator import (
        BatchPlan,
        ManualClock,
        OpenAIEmulator,
        SystemClock,
    )

    emu = OpenAIEmulator(clock=ManualClock() if manual_clock else SystemClock())
    emu.faults.default_batch = BatchPlan(
        validating=phase_seconds, in_progress=phase_seconds, finalizing=phase_seconds
    )
    typer.echo(f"OpenAI emulator on http://{host}:{port}/v1 (any bearer key is accepted)")
    uvicorn.run(emu.app, host=host, port=port, log_level="warning")


@app.command()
def demo(prompt: str = typer.Argument("make me pasta carbonara", help="What to cook.")) -> None:
    """Run the main job end to end against the emulated OpenAI API, printing each step."""
    from batchcook.demo import run_demo

    raise typer.Exit(run_demo(prompt))


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
    typer.echo(
        f"NOTION_BASE_URL=http://{host}:{port}\nNOTION_TOKEN={token}\n"
        f"NOTION_RECIPES_DATABASE_ID={emulator.recipes_database_id}\n"
        f"NOTION_USER_ID={emulator.user_id}\n"
        f"# pages as text: http://{host}:{port}/_emulator/"
    )
    uvicorn.run(emulator.app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    app()
