"""The rows of the built-in forms as the tests read them: `ActivityRow` and
`VolunteerTeamRow`, read-only ORM classes over the one row table (`form_row`), one per
form, each value a column as the two tables of old had them. Tests ask the store what
it holds in the words they always used; the store itself keeps values as JSON."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import registry

from store.models import RowRecord

_ROWS = RowRecord.__table__  # type: ignore[attr-defined]
_mapped = registry()


def _row_class(name: str, form: str, columns: tuple[str, ...],
               numbers: tuple[str, ...]) -> type:
    values = [(_ROWS.c.data[c].as_integer() if c in numbers else _ROWS.c.data[c].as_string())
              .label(c) for c in columns]
    rows = select(_ROWS.c.id, _ROWS.c.submission_id, _ROWS.c.seq, *values, _ROWS.c.raw,
                  _ROWS.c.problems).where(_ROWS.c.form == form).subquery(name.lower())
    cls = type(name, (), {"__doc__": f"A row of the `{form}` form (read only)."})
    _mapped.map_imperatively(cls, rows, primary_key=[rows.c.id])
    return cls


ActivityRow = _row_class("ActivityRow", "activity",
                         ("name", "form", "schedule", "content", "participants"),
                         ("participants",))
VolunteerTeamRow = _row_class("VolunteerTeamRow", "volunteer_team",
                              ("team_name", "leader_name", "leader_title", "size", "founded",
                               "service", "results"), ("size",))
