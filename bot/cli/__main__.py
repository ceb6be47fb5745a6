"""`python -m bot.cli`: the same as the `opscopilot` command."""

from bot.cli.main import main

main()
