"""Looking up a campaign's declared forms (Settings.forms) by key, and what the store's
views of them are.

A stored submission may name a form its campaign no longer declares (the declaration
changed mid-campaign and the mail was not re-read yet): it is shown under its key, with
its row numbers, rather than failing a page or a report.
"""

from __future__ import annotations

from parsers.specs import FormSpec
from store.views import ViewColumn, ViewPlan

NUMERIC_KINDS = ("count", "number", "money")


def spec_for(forms: tuple[FormSpec, ...], key: str) -> FormSpec:
    """The declared form `key`, else a stand-in named by the key."""
    return next((f for f in forms if f.key == key), None) or FormSpec(
        key=key, title=key, short=key, title_words=(), fields=())


def short_name(forms: tuple[FormSpec, ...], key: str) -> str:
    return spec_for(forms, key).short


def complete(forms: tuple[FormSpec, ...], submitted: object) -> bool:
    """Whether a unit's current submissions (a container of form keys) hold every form."""
    return all(spec.key in submitted for spec in forms)  # type: ignore[operator]


def view_plans(forms: tuple[FormSpec, ...]) -> list[ViewPlan]:
    """One SQL view per form, named by `short`, its columns the export's headers."""
    plans = []
    for spec in forms:
        cols = [ViewColumn(header, column, spec_field.kind in NUMERIC_KINDS
                           and spec_field.kind != "leader")
                for spec_field in spec.data_fields
                for header, column in zip(spec_field.export_headers, spec_field.columns,
                                          strict=True)]
        plans.append(ViewPlan(spec.short, spec.key, tuple(cols)))
    return plans


def sync_views(forms: tuple[FormSpec, ...], engine: object) -> bool:
    """Build the forms' views again when the declaration differs from what they were
    built from (at every poll and command start: one SELECT when nothing changed)."""
    from store.views import ensure_views

    return ensure_views(engine, view_plans(forms))  # type: ignore[arg-type]
