"""Template filters that format KPI values in the active language (French: 12 345,5 €)."""

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import pgettext

register = template.Library()

# Decimal places per unit; a negative count hides them on whole numbers (floatformat's rule).
PLACES = {"n": 0, "€": -2, "%": -1, "pts": -1, "h": -1, "d": -1, "s": 0, "€/d": -2}
SUFFIX = {"n": "", "€": "\u00a0€", "%": "\u00a0%", "pts": "\u00a0pts", "h": "\u00a0h", "s": "\u00a0s"}


@register.filter
def kpi_value(value, unit: str = "") -> str:
    """A KPI value with the locale's separators and its unit; an em dash when there is none."""
    if value is None or value == "":
        return "—"
    places = PLACES.get(unit, -2)
    if unit == "€" and abs(Decimal(str(value))) >= 1000:
        places = 0
    suffix = SUFFIX.get(unit, f"\u00a0{unit}" if unit else "")
    if unit == "d":
        suffix = "\u00a0" + pgettext("unit: days", "d")
    return f"{floatformat(value, f'{places}g')}{suffix}"


@register.filter
def plain_number(value) -> str:
    """A number as a form field reads it back, without trailing zeros: 45, 400000, 131.5 (never 4E+5)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)).normalize():f}"


@register.filter
def signed_change(value, unit: str = "%") -> str:
    """A change with its sign in its unit: +2,4 pts for rates and scores, −12,3 % for amounts and counts."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    suffix = "\u00a0pts" if unit == "pts" else "\u00a0%"
    return f"{sign}{floatformat(abs(value), '-1g')}{suffix}"


@register.filter
def signed_value(value, unit: str = "") -> str:
    """A difference with its sign in the KPI's unit (a rate's in points): −7,1 pts, +1 250 €."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return sign + kpi_value(abs(Decimal(str(value))), "pts" if unit == "%" else unit)


@register.filter
def signed_percent(value) -> str:
    """A change in percent with its sign: +12,5 %, −3 %."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return f"{sign}{floatformat(abs(value), '-1g')}\u00a0%"
