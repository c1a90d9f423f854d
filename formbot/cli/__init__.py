"""The terminal's door: `formbot …` commands (commands.py), their shared options and
error handling (options.py), the doctor's checks (doctor.py)."""

from formbot.cli.zh import install as _chinese_click

# Before any command below is declared: a decorator looks its help text up as it runs.
_chinese_click()
