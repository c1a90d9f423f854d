"""The terminal's door: `formbot …` commands (commands.py), their shared options and
error handling (options.py), the doctor's checks (doctor.py)."""
