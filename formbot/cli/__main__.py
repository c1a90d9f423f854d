"""`python -m formbot.cli`: the same commands as the `formbot` script."""

from formbot.cli.commands import main

main()
