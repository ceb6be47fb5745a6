"""The `opscopilot` command line: `main.py` holds the app and the small commands, one module per
command group beside it (`anomaly`, `rca`, `runbook`, `eval`, `kb`, `model`, `events`, `slack`)."""

from bot.cli.main import app, main

__all__ = ["app", "main"]
