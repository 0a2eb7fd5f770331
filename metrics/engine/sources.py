"""Record sources: the tables a measure can aggregate, as a registry keyed by name.

Every CRM record kind of `ACTIVITY_MODELS` is a source under its URL name
("orders", "survey-responses", …). Two more sources read the platform's own data for
the CRM-adoption KPIs: "logins" (a user's login events, counted for each team the user
belongs to) and "memberships" (team members).

A source says how to reach the fact's team (`team_path`), which record kinds' dirty
marks make its measures stale, and which segment dimensions it can be broken down by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models

from accounts.models import LoginEvent, Membership
from metrics.models.activity import ACTIVITY_MODELS

# Text fields that identify a record or hold free text: never segment dimensions.
NOT_DIMENSIONS = {"external_id", "name", "comment"}


@dataclass(frozen=True)
class RecordSource:
    """A table measures can aggregate."""

    name: str
    model: type[models.Model]
    team_path: str = "team"
    record_kinds: frozenset[str] = frozenset()
    dimensions: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name_plural)


def _plain_dimensions(model: type[models.Model]) -> dict[str, str]:
    """Short text fields of the model (channel, owner, status, …) are segment dimensions."""
    return {
        f.name: f.name for f in model._meta.fields if isinstance(f, models.CharField) and f.name not in NOT_DIMENSIONS
    }


def _related_dimensions(model: type[models.Model]) -> dict[str, str]:
    """Dimensions reached through a forward relation: the customer's segment, the campaign's channel."""
    names = {f.name for f in model._meta.fields if f.is_relation and f.many_to_one}
    dims: dict[str, str] = {}
    if "customer" in names:
        dims["customer_segment"] = "customer__segment"
        dims["customer_channel"] = "customer__acquisition_channel"
    if "campaign" in names:
        dims["campaign"] = "campaign__external_id"
        dims.setdefault("channel", "campaign__channel")
    return dims


def _activity_source(kind: str, model: type[models.Model]) -> RecordSource:
    dims = _plain_dimensions(model)
    dims.update({k: v for k, v in _related_dimensions(model).items() if k not in dims})
    if kind == "customers":
        dims["channel"] = "acquisition_channel"
    return RecordSource(name=kind, model=model, team_path="team", record_kinds=frozenset({kind}), dimensions=dims)


SOURCES: dict[str, RecordSource] = {kind: _activity_source(kind, model) for kind, model in ACTIVITY_MODELS.items()}
SOURCES["logins"] = RecordSource(
    name="logins",
    model=LoginEvent,
    # A login counts for every team its user is a member of (and, through the roll-up, their parents).
    team_path="user__memberships__team",
    # Dirty marks: a login marks its user's teams, a membership change its team (metrics.recompute.receivers).
    record_kinds=frozenset({"logins", "memberships"}),
    dimensions={},
)
SOURCES["memberships"] = RecordSource(
    name="memberships",
    model=Membership,
    team_path="team",
    record_kinds=frozenset({"memberships"}),
    dimensions={"role": "role"},
)


def source_choices() -> list[tuple[str, str]]:
    """Choices for a measure's source: every registered source."""
    return [(name, f"{name} ({source.label})") for name, source in SOURCES.items()]


KIND_OF_MODEL: dict[type[models.Model], str] = {model: kind for kind, model in ACTIVITY_MODELS.items()}


class FieldPathError(ValueError):
    """A field path does not name a field of the model."""


def resolve_path(model: type[models.Model], path: str) -> tuple[models.Field, list[type[models.Model]]]:
    """The field a `a__b__c` path ends on, following forward relations only, and the models crossed."""
    if not path or not isinstance(path, str):
        raise FieldPathError("A field name is required.")
    parts = path.split("__")
    current = model
    crossed: list[type[models.Model]] = []
    for index, part in enumerate(parts):
        try:
            f = current._meta.get_field(part)
        except Exception as exc:
            names = ", ".join(sorted(x.name for x in current._meta.get_fields() if x.concrete))
            raise FieldPathError(f"{current._meta.model_name} has no field {part!r} (fields: {names}).") from exc
        if not f.concrete:
            raise FieldPathError(f"{part!r} is not a field of {current._meta.model_name}.")
        last = index == len(parts) - 1
        if f.is_relation:
            if not (f.many_to_one or f.one_to_one):
                raise FieldPathError(f"{part!r} is not a forward relation.")
            if last:
                return f, crossed
            current = f.related_model
            crossed.append(current)
        elif not last:
            raise FieldPathError(f"{part!r} of {current._meta.model_name} is not a relation; cannot follow {path!r}.")
        else:
            return f, crossed
    raise FieldPathError(f"Invalid field path {path!r}.")


def is_datetime(f: models.Field) -> bool:
    return isinstance(f, models.DateTimeField)


def is_date(f: models.Field) -> bool:
    return isinstance(f, models.DateField) and not isinstance(f, models.DateTimeField)


def is_temporal(f: models.Field) -> bool:
    return isinstance(f, models.DateField)


def is_numeric(f: models.Field) -> bool:
    return isinstance(f, models.IntegerField | models.DecimalField | models.FloatField) and not f.is_relation


def numeric_scale(f: models.Field) -> int:
    """Decimal places of a numeric field's values (0 for integers)."""
    return f.decimal_places if isinstance(f, models.DecimalField) else 0
