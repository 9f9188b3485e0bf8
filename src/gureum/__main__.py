"""`python -m gureum`: the same as the `gureum` command."""

from .cli.main import app

app()
