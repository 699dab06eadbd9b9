"""``python -m batchcook`` is the ``batchcook`` command."""

from batchcook.cli import app

app()
