"""The cards of a team's dashboard: the default KPIs of each kind of team, a team's own choice, the change and
colour shared by every screen, and the JSON the pages' scripts read (the charts are registered in `panels`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from accounts.models import Team
from metrics.kpis.selectors import kpi_name, value_change
from metrics.models import KpiDefinition
from objectives.models import DashboardCard

DEFAULT_CARD_CODES: dict[str, tuple[str, ...]] = {
    "sales": ("revenue", "orders", "average_purchase_value", "win_rate", "pipeline_value", "new_customers"),
    "marketing": (
        "leads",
        "lead_conversion_rate",
        "email_open_rate",
        "customer_acquisition_cost",
        "web_visits",
        "marketing_roi",
    ),
    "support": (
        "tickets",
        "ticket_first_response_time",
        "first_contact_resolution_rate",
        "csat",
        "nps",
        "complaints",
    ),
}


# Teams of another kind (e.g. the company at the top of the tree) see the main KPI of each.
DEFAULT_CARD_CODES["other"] = ("revenue", "orders", "leads", "win_rate", "csat", "nps")


# Rates and scores move in points: 37,9 % → 40,3 % is +2,4 pts, not +6,3 %.
POINT_UNITS = frozenset({"%", "pts"})
TENTH = Decimal("0.1")


def change_colour(*, direction: str, change: Decimal | None) -> str:
    """good / bad / neutral: whether the change is in the KPI's better direction."""
    if change is None or change == 0 or direction not in ("higher", "lower"):
        return "neutral"
    better = change > 0 if direction == "higher" else change < 0
    return "good" if better else "bad"


def change_percent(value: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """The change vs the previous value in % of |previous|, to one decimal (None: not computable)."""
    percent = value_change(value, previous)[1]
    return None if percent is None else percent.quantize(TENTH)


def kpi_change(*, unit: str, direction: str, value: Decimal | None, previous: Decimal | None) -> dict:
    """How a KPI moved from `previous` to `value`, in its own terms: the one function every screen uses.

    Rates and scores (unit % or pts) change in points, amounts and counts in % of the previous value.
    Keys: `change` (the number shown, to one decimal; None when not computable), `change_unit` ("pts" or
    "%"), `change_percent` (always relative), `change_delta` (value − previous, in the KPI's unit) and
    `colour` (good / bad / neutral after the KPI's direction).
    """
    delta = value_change(value, previous)[0]
    in_points = unit in POINT_UNITS
    # Points to one decimal, half up like the values beside them (5,3 % − 4,0 % reads +1,3 pts).
    shown = delta.quantize(TENTH, ROUND_HALF_UP) if in_points and delta is not None else change_percent(value, previous)
    return {
        "change": shown,
        "change_unit": "pts" if in_points else "%",
        "change_percent": change_percent(value, previous),
        "change_delta": delta,
        "colour": change_colour(direction=direction, change=shown),
    }


def default_card_codes(*, team: Team) -> tuple[str, ...]:
    """The cards of a team that never chose its own: those of its kind (sales, marketing, support, other)."""
    return DEFAULT_CARD_CODES.get(team.kind, DEFAULT_CARD_CODES["other"])


def dashboard_as_json(data: dict) -> dict:
    """The dashboard dict with numbers as JSON numbers and dates as ISO strings."""
    return _jsonable(data)


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


MAX_CARDS = 12
CARD_ACTIONS = ("up", "down", "remove")


def dashboard_cards(*, team: Team) -> dict:
    """The team's card KPIs in order and whether they are its kind's defaults; two queries."""
    chosen = list(DashboardCard.objects.filter(team=team).order_by("position").values_list("kpi__code", flat=True))
    codes = chosen or list(default_card_codes(team=team))
    kpis = {k.code: k for k in KpiDefinition.objects.filter(code__in=codes)}
    return {
        "is_default": not chosen,
        "cards": [{"code": c, "name": kpi_name(kpis[c]) if c in kpis else c, "known": c in kpis} for c in codes],
    }


def dashboard_card_choices(*, exclude: Sequence[str] = ()) -> list[dict]:
    """Active KPIs a card can show, by category then name (the active language's), without `exclude`."""
    kpis = KpiDefinition.objects.filter(active=True).exclude(code__in=list(exclude))
    rows = [{"code": k.code, "name": kpi_name(k), "category": k.get_category_display()} for k in kpis]
    return sorted(rows, key=lambda r: (str(r["category"]), r["name"].casefold()))


def dashboard_cards_edited(*, codes: Sequence[str], action: str, code: str) -> list[str]:
    """The card list after one edit: move `code` up or down, remove it, or add it at the end."""
    edited = list(dict.fromkeys(codes))  # a repeated code keeps its first place
    if action == "add":
        return edited if code in edited else [*edited, code]
    if code not in edited or action not in CARD_ACTIONS:
        return edited
    index = edited.index(code)
    if action == "remove":
        del edited[index]
    elif action == "up" and index > 0:
        edited[index - 1], edited[index] = edited[index], edited[index - 1]
    elif action == "down" and index < len(edited) - 1:
        edited[index + 1], edited[index] = edited[index], edited[index + 1]
    return edited
