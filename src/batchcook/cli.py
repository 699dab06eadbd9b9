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
