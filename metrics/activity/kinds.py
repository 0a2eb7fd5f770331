"""The record kinds' registry: one `KindSpec` per kind of CRM activity, derived from its model.

Each field gets a parser (raw JSON/CSV value -> Python value, or `FieldError`) and the
cross-field rules of the database constraints are stated once in `KIND_RULES`, so the API,
the CSV import and the admin validate a record the same way. Each field also gets a cell
reader for imported files, which takes what a French or English spreadsheet writes
(« 1 234,56 € », « 01/12/2026 10:15 », « Finalisée ») and gives a value the parser accepts;
the API itself stays strict (ISO 8601, codes).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kpiplatform.dates import plausible_date_message
from metrics.activity.synonyms import CHOICE_SYNONYMS
from metrics.models import ACTIVITY_MODELS, ActivityRecord
from metrics.models.activity import SURVEY_SCALES

# Columns every record has, handled outside the per-kind field specs.
COMMON_FIELDS = ("external_id", "team", "attributes")
_NOT_INGESTED = {"id", "team", "external_id", "attributes", "ingested_at", "updated_at"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "1", "yes", "y", "oui", "vrai", "t"}
_FALSE = {"false", "0", "no", "n", "non", "faux", "f"}
# The widest UTC offsets in use (Kiribati +14:00, Baker Island -12:00); ISO 8601 allows up to ±23:59.
MAX_UTC_OFFSET = timedelta(hours=14)
# Digits before the decimal point a number may have at all (the columns' own limits are checked after).
_MAX_NUMBER_DIGITS = 30
_TOO_LARGE = 10**_MAX_NUMBER_DIGITS


class FieldError(ValueError):
    """A value could not be read; the message says why (already translated)."""


# ---------------------------------------------------------------------------
# Field parsers: raw JSON/CSV value -> Python value, or FieldError
# ---------------------------------------------------------------------------
def local_zone() -> ZoneInfo:
    """settings.TIME_ZONE (Django caches it)."""
    return timezone.get_default_timezone()


def check_plausible_moment(value: date) -> None:
    """FieldError unless a date or date-time lies in the plausible window (1 January of settings.KPI_DATE_MIN_YEAR
    to 31 December of KPI_DATE_MAX_YEAR, `kpiplatform.dates`; a date-time by its day as written) and, when it has
    a UTC offset, the offset is whole minutes within ±14:00.

    One order dated 1900 makes every KPI of its team reach back to 1900; year 9999 or an offset of
    -19:18 leaves the calendar when converted to UTC or to the organisation's time zone. Called
    for every date of every record: the window is compared by year (what `date_in_window` tests,
    without building its two dates each time).
    """
    if not settings.KPI_DATE_MIN_YEAR <= value.year <= settings.KPI_DATE_MAX_YEAR:
        raise FieldError(plausible_date_message(value))
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if offset and (offset > MAX_UTC_OFFSET or offset < -MAX_UTC_OFFSET or offset.seconds % 60 or offset.microseconds):
        raise FieldError(
            _("Enter a UTC offset between -14:00 and +14:00, in whole minutes (got %(value)s).")
            % {"value": value.isoformat()}
        )


def parse_datetime_value(value: Any) -> datetime:
    """ISO 8601 date-time; a naive one is read in settings.TIME_ZONE; a bare date is its local midnight. Within the
    plausible years and UTC offsets (`check_plausible_moment`)."""
    if isinstance(value, str):  # the common case (JSON) first
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(
                _("Enter an ISO 8601 date-time such as 2025-03-01T14:30:00Z (got %(value)r).") % {"value": value}
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise FieldError(_("Enter an ISO 8601 date-time string."))
    check_plausible_moment(parsed)
    if parsed.utcoffset() is None:  # naive (timezone.is_naive, without the call)
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed


def parse_date_value(value: Any) -> date:
    """A calendar date written YYYY-MM-DD, within the plausible years (`check_plausible_moment`)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif isinstance(value, datetime):
        check_plausible_moment(value)
        parsed = value.date()
    elif isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(_("Enter a date as YYYY-MM-DD (got %(value)r).") % {"value": value}) from None
    else:
        raise FieldError(_("Enter a date as YYYY-MM-DD (got %(value)r).") % {"value": _short_repr(value)})
    check_plausible_moment(parsed)
    return parsed


def _short_repr(value: Any) -> Any:
    """A value as an error message quotes it: what a JSON parser gives (a list, an object) is not echoed whole."""
    if isinstance(value, dict | list | tuple):
        return type(value).__name__
    return value


def _too_large(number: Decimal | int) -> bool:
    """More digits before the decimal point than any column holds (checked before arithmetic can overflow)."""
    if isinstance(number, int):
        return abs(number) >= _TOO_LARGE
    return number.is_finite() and number != 0 and number.adjusted() >= _MAX_NUMBER_DIGITS


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError(_("Enter a whole number."))
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INT_RE.match(value.strip()) and len(value.strip()) <= _MAX_NUMBER_DIGITS + 1:
        number = int(value.strip())
    if number is None:
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            raise FieldError(_("Number too large (at most %(digits)d digits).") % {"digits": _MAX_NUMBER_DIGITS})
        raise FieldError(_("Enter a whole number (got %(value)r).") % {"value": _short_repr(value)})
    if _too_large(number):
        raise FieldError(_("Number too large (at most %(digits)d digits).") % {"digits": _MAX_NUMBER_DIGITS})
    return number


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise FieldError(_("Enter a number."))
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float | str):
        text = str(value).strip().replace(" ", "").replace("\u00a0", "")
        # A French decimal comma in a CSV cell ("12,50") is read as a decimal point.
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise FieldError(_("Enter a number (got %(value)r).") % {"value": value}) from None
    else:
        raise FieldError(_("Enter a number."))
    if not number.is_finite():
        raise FieldError(_("Enter a finite number."))
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise FieldError(_("Enter true or false (got %(value)r).") % {"value": _short_repr(value)})


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise FieldError(_("Enter a text value."))


def _reference(value: Any) -> str:
    text = _string(value)
    if not text:
        raise FieldError(_("Enter the external_id of the record referred to."))
    return text


def _bounded(parse: Callable[[Any], Any], low: Any, high: Any) -> Callable[[Any], Any]:
    def parse_bounded(value: Any) -> Any:
        number = parse(value)
        if low is not None and number < low:
            raise FieldError(_("Must be at least %(low)s (got %(value)s).") % {"low": low, "value": number})
        if high is not None and number > high:
            raise FieldError(_("Must be at most %(high)s (got %(value)s).") % {"high": high, "value": number})
        return number

    return parse_bounded


def _max_length(parse: Callable[[Any], str], limit: int) -> Callable[[Any], str]:
    def parse_limited(value: Any) -> str:
        text = parse(value)
        if len(text) > limit:
            raise FieldError(
                _("At most %(limit)d characters (got %(length)d).") % {"limit": limit, "length": len(text)}
            )
        return text

    return parse_limited


def _choice(values: Sequence[str]) -> Callable[[Any], str]:
    allowed = {v.lower(): v for v in values}

    def parse_choice(value: Any) -> str:
        text = _string(value).lower()
        if text not in allowed:
            raise FieldError(
                _("Must be one of: %(choices)s (got %(value)r).") % {"choices": ", ".join(values), "value": value}
            )
        return allowed[text]

    return parse_choice


def _decimal_field(model_field: models.DecimalField) -> Callable[[Any], Decimal]:
    quantum = Decimal(1).scaleb(-model_field.decimal_places)
    limit = Decimal(10) ** (model_field.max_digits - model_field.decimal_places)

    def parse_money(value: Any) -> Decimal:
        number = _decimal(value)
        # Compared, not abs(): 1E+999999999 would overflow the decimal context (a 500).
        if number >= limit or number <= -limit:
            raise FieldError(_("Number too large (at most %(digits)d digits).") % {"digits": model_field.max_digits})
        return number.quantize(quantum, rounding=ROUND_HALF_UP)

    return parse_money


# ---------------------------------------------------------------------------
# Cell readers: a cell of an imported file (text) -> a value the field's parser accepts
# ---------------------------------------------------------------------------
_WORD_CHARS = re.compile(r"[a-z0-9]+")
# Spaces a spreadsheet puts between thousands: plain, no-break (U+00A0), narrow no-break (U+202F), thin, figure.
_BLANKS = re.compile(r"[\s\u00a0\u202f\u2009\u2007']+")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CURRENCY_MARKS = ("€", "EUR", "eur", "Eur", "%")
_DAY_FIRST = re.compile(
    r"^(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})"
    r"(?:[ T]+(?:à\s*)?(?P<hour>\d{1,2})[:hH](?P<minute>\d{2})?(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?$"
)
_CELL_TRUE = {"true", "1", "yes", "y", "oui", "o", "vrai", "t", "x"}
_CELL_FALSE = {"false", "0", "no", "n", "non", "faux", "f"}


def word_key(text: Any) -> str:
    """A word as compared with synonyms: lower case, no accents, no spaces or punctuation (« N° de commande »
    → "ndecommande")."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return "".join(_WORD_CHARS.findall(ascii_text))


def read_text_cell(cell: str) -> str:
    """A text cell, as is (the field's parser trims it and checks its length)."""
    return cell


def read_decimal_cell(cell: str) -> Decimal:
    """« 1 234,56 », « 1 234,56 € », « 1.234,56 », « 1,234.56 », « 1234.56 », « -12,5 % » → a Decimal."""
    text = _BLANKS.sub("", cell)
    for mark in _CURRENCY_MARKS:
        text = text.removesuffix(mark).removeprefix(mark)
    if "," in text and "." in text:
        # Whichever comes last separates the decimals; the other one groups the thousands.
        thousands = "." if text.rfind(",") > text.rfind(".") else ","
        text = text.replace(thousands, "").replace(",", ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")  # a French decimal comma
    elif text.count(",") > 1 or text.count(".") > 1:
        text = text.replace(",", "").replace(".", "")  # 1,234,567 or 1.234.567
    if not _PLAIN_NUMBER.match(text):
        raise FieldError(_("Enter a number such as 1 234,56 or 1234.56 (got %(value)r).") % {"value": cell})
    return Decimal(text)


def read_integer_cell(cell: str) -> int:
    """« 1 234 », « 12 », « 12,0 » → an int."""
    try:
        number = read_decimal_cell(cell)
    except FieldError:
        number = None
    if number is not None and _too_large(number):
        raise FieldError(_("Number too large (at most %(digits)d digits).") % {"digits": _MAX_NUMBER_DIGITS})
    if number is None or number != number.to_integral_value():
        raise FieldError(_("Enter a whole number (got %(value)r).") % {"value": cell})
    return int(number)


def _day_first(cell: str) -> datetime | None:
    """« 31/12/2026 », « 31/12/2026 14:30[:15] », « 31-12-2026 14h30 » as a naive datetime; None if not so
    written; FieldError if so written but not a real date."""
    match = _DAY_FIRST.match(cell)
    if match is None:
        return None
    parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
    try:
        return datetime.combine(
            date(parts["year"], parts["month"], parts["day"]),
            time(parts.get("hour", 0), parts.get("minute", 0), parts.get("second", 0)),
        )
    except ValueError:
        raise FieldError(_("This date does not exist (got %(value)r).") % {"value": cell}) from None


def read_datetime_cell(cell: str) -> datetime:
    """dd/mm/yyyy, dd/mm/yyyy hh:mm[:ss], yyyy-mm-dd or ISO 8601; without an offset, in the organisation's time
    zone (settings.TIME_ZONE)."""
    text = " ".join(cell.split())
    parsed = _day_first(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                _("Enter a date such as 31/12/2026, 31/12/2026 14:30 or 2026-12-31T14:30:00+01:00 (got %(value)r).")
                % {"value": cell}
            ) from None
    check_plausible_moment(parsed)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed


def read_date_cell(cell: str) -> date:
    """dd/mm/yyyy or yyyy-mm-dd; a date-time gives its day (in the organisation's time zone if it has an offset)."""
    text = " ".join(cell.split())
    parsed = _day_first(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                _("Enter a date such as 31/12/2026 or 2026-12-31 (got %(value)r).") % {"value": cell}
            ) from None
    if timezone.is_aware(parsed):
        # Checked before moving it to the organisation's time zone: year 1 at +14:00 is before Python's calendar.
        check_plausible_moment(parsed)
        return parsed.astimezone(local_zone()).date()
    return parsed.date()


def read_boolean_cell(cell: str) -> bool:
    """oui/non, vrai/faux, yes/no, true/false, 1/0, x (ticked)."""
    word = word_key(cell)
    if word in _CELL_TRUE:
        return True
    if word in _CELL_FALSE:
        return False
    raise FieldError(_("Enter yes or no (oui/non, true/false, 1/0) (got %(value)r).") % {"value": cell})


class ChoiceCellReader:
    """Reads a choice by its code, its label in English or French or a synonym of `CHOICE_SYNONYMS`, whatever
    the case, accents and punctuation; the words are gathered on first use (the labels are translations)."""

    def __init__(self, labels: Sequence[tuple[str, Any]], synonyms: dict[str, tuple[str, ...]]):
        self.labels = tuple(labels)
        self.synonyms = synonyms
        self._words: dict[str, str] | None = None

    def words(self) -> dict[str, str]:
        if self._words is None:
            words: dict[str, str] = {}
            for code, _label in self.labels:
                words[word_key(code)] = code
            for language in ("en", "fr"):
                with translation.override(language):
                    for code, label in self.labels:
                        words.setdefault(word_key(label), code)
            for code, synonyms in self.synonyms.items():
                for synonym in synonyms:
                    words.setdefault(word_key(synonym), code)
            self._words = words
        return self._words

    def __call__(self, cell: str) -> str:
        code = self.words().get(word_key(cell))
        if code is None:
            accepted = ", ".join(f"{code} ({label})" for code, label in self.labels)
            raise FieldError(
                _("Unknown value %(value)r: use one of %(choices)s.") % {"value": cell, "choices": accepted}
            )
        return code


# Integer ranges of the database columns.
_INTEGER_RANGES: dict[type[models.Field], tuple[int, int]] = {
    models.PositiveSmallIntegerField: (0, 32_767),
    models.PositiveIntegerField: (0, 2_147_483_647),
    models.PositiveBigIntegerField: (0, 9_223_372_036_854_775_807),
    models.SmallIntegerField: (-32_768, 32_767),
    models.IntegerField: (-2_147_483_648, 2_147_483_647),
    models.BigIntegerField: (-9_223_372_036_854_775_808, 9_223_372_036_854_775_807),
}


# ---------------------------------------------------------------------------
# The registry: one KindSpec per record kind, derived from its model
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    """How one field of a record kind is read from JSON/CSV and stored."""

    name: str  # the API name, e.g. "customer" or "ordered_at"
    attname: str  # the model attribute set, e.g. "customer_id"
    type: str  # string, text, datetime, date, decimal, integer, boolean, reference
    required: bool
    default: Any
    parse: Callable[[Any], Any]
    label: Any  # the model field's verbose name (lazy translation)
    read: Callable[[str], Any] = read_text_cell  # a cell of an imported file -> a value `parse` accepts
    choices: tuple[str, ...] = ()
    reference: type[ActivityRecord] | None = None
    minimum: Any = None
    maximum: Any = None
    max_length: int | None = None

    @property
    def is_date(self) -> bool:
        return self.type in ("datetime", "date")

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


@dataclass(frozen=True)
class KindSpec:
    """Everything ingestion, the API and the CSV import need to know about one record kind."""

    kind: str
    model: type[ActivityRecord]
    fields: tuple[FieldSpec, ...]
    main_date: str
    rules: tuple[Rule, ...]
    open_ended: str | None
    natural_keys: tuple[tuple[str, ...], ...]

    @property
    def by_name(self) -> dict[str, FieldSpec]:
        return {spec.name: spec for spec in self.fields}

    @property
    def accepted_names(self) -> frozenset[str]:
        return frozenset((*COMMON_FIELDS, *(spec.name for spec in self.fields)))

    @property
    def references(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.reference is not None)

    @property
    def date_attnames(self) -> tuple[str, ...]:
        return tuple(spec.attname for spec in self.fields if spec.is_date)


def _check_bounds(model: type[models.Model]) -> dict[str, tuple[Any, Any]]:
    """Bounds stated by the model's CheckConstraints of the form Q(f__gte=a[, f__lte=b])."""
    bounds: dict[str, list[Any]] = defaultdict(lambda: [None, None])
    for constraint in model._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if not isinstance(constraint, models.CheckConstraint) or condition is None or condition.negated:
            continue
        if condition.connector != models.Q.AND or not all(isinstance(c, tuple) for c in condition.children):
            continue
        for lookup, value in condition.children:
            name, _sep, op = lookup.rpartition("__")
            if op in ("gte", "lte") and isinstance(value, int | Decimal) and name:
                bounds[name][0 if op == "gte" else 1] = value
    return {name: (low, high) for name, (low, high) in bounds.items()}


def _field_spec(model_field: models.Field, bounds: dict[str, tuple[Any, Any]]) -> FieldSpec:
    low, high = bounds.get(model_field.name, (None, None))
    has_default = model_field.has_default()
    nullable = model_field.null
    common = {
        "name": model_field.name,
        "attname": model_field.attname,
        "label": model_field.verbose_name,
        "default": model_field.default if has_default else ("" if model_field.blank and not nullable else None),
        "required": not (has_default or nullable or model_field.blank),
    }
    spec = _field_spec_for_type(model_field, low, high, common)
    if spec.default is not None and not callable(spec.default):
        # Defaults are stored as ingestion would read them (0 -> Decimal("0.00")), so comparisons hold.
        spec = replace(spec, default=spec.parse(spec.default))
    return spec


def _field_spec_for_type(model_field: models.Field, low: Any, high: Any, common: dict[str, Any]) -> FieldSpec:
    if isinstance(model_field, models.ForeignKey):
        return FieldSpec(type="reference", parse=_reference, reference=model_field.related_model, **common)
    if isinstance(model_field, models.DateTimeField):
        return FieldSpec(type="datetime", parse=parse_datetime_value, read=read_datetime_cell, **common)
    if isinstance(model_field, models.DateField):
        return FieldSpec(type="date", parse=parse_date_value, read=read_date_cell, **common)
    if isinstance(model_field, models.DecimalField):
        parse = _bounded(_decimal_field(model_field), low, high)
        return FieldSpec(type="decimal", parse=parse, read=read_decimal_cell, minimum=low, maximum=high, **common)
    if isinstance(model_field, models.BooleanField):
        return FieldSpec(type="boolean", parse=_boolean, read=read_boolean_cell, **common)
    for integer_class, (int_low, int_high) in _INTEGER_RANGES.items():
        if isinstance(model_field, integer_class):
            low = int_low if low is None else max(low, int_low)
            high = int_high if high is None else min(high, int_high)
            parse = _bounded(_integer, low, high)
            return FieldSpec(type="integer", parse=parse, read=read_integer_cell, minimum=low, maximum=high, **common)
    if model_field.choices:
        values = tuple(str(value) for value, _label in model_field.flatchoices)
        return FieldSpec(type="string", parse=_choice(values), choices=values, **common)
    if isinstance(model_field, models.CharField):
        limit = model_field.max_length
        return FieldSpec(type="string", parse=_max_length(_string, limit), max_length=limit, **common)
    if isinstance(model_field, models.TextField):
        return FieldSpec(type="text", parse=_string, **common)
    raise TypeError(f"No ingestion parser for {model_field!r}")


@dataclass(frozen=True)
class NotBefore:
    """`later` (when set) is not before `earlier`."""

    later: str
    earlier: str

    def check(self, values: dict[str, Any]) -> tuple[str, str] | None:
        later, earlier = values.get(self.later), values.get(self.earlier)
        if later is not None and earlier is not None and later < earlier:
            return self.later, _("Must not be before %(other)s.") % {"other": self.earlier}
        return None


@dataclass(frozen=True)
class NotAbove:
    """`smaller` is not greater than `larger`."""

    smaller: str
    larger: str

    def check(self, values: dict[str, Any]) -> tuple[str, str] | None:
        smaller, larger = values.get(self.smaller), values.get(self.larger)
        if smaller is not None and larger is not None and smaller > larger:
            return self.smaller, _("Must not be greater than %(other)s.") % {"other": self.larger}
        return None


@dataclass(frozen=True)
class ClosedWhenDecided:
    """A won or lost deal has a closing date; an open one has none."""

    def check(self, values: dict[str, Any]) -> tuple[str, str] | None:
        status, closed_at = values.get("status"), values.get("closed_at")
        if status in ("won", "lost") and closed_at is None:
            return "closed_at", _("A won or lost deal needs closed_at.")
        if status == "open" and closed_at is not None:
            return "closed_at", _("An open deal has no closed_at; set status to won or lost.")
        return None


@dataclass(frozen=True)
class ScoreInScale:
    """The score is within its survey's scale (NPS 0–10, CSAT 1–5, CES 1–7)."""

    def check(self, values: dict[str, Any]) -> tuple[str, str] | None:
        survey, score = values.get("survey"), values.get("score")
        scale = SURVEY_SCALES.get(survey) if survey else None
        if scale is not None and score is not None and not scale[0] <= score <= scale[1]:
            return "score", _("A %(survey)s score is between %(low)d and %(high)d (got %(score)d).") % {
                "survey": survey.upper(),
                "low": scale[0],
                "high": scale[1],
                "score": score,
            }
        return None


Rule = NotBefore | NotAbove | ClosedWhenDecided | ScoreInScale


KIND_RULES: dict[str, tuple[Rule, ...]] = {
    "customers": (NotBefore("churned_at", "acquired_at"),),
    "leads": (NotBefore("first_response_at", "created_at"),),
    "deals": (ClosedWhenDecided(), NotBefore("closed_at", "created_at")),
    "subscriptions": (NotBefore("cancelled_at", "started_at"),),
    "tickets": (NotBefore("first_response_at", "created_at"), NotBefore("resolved_at", "created_at")),
    "survey-responses": (ScoreInScale(),),
    "campaign-stats": (NotAbove("delivered", "sent"),),
    "web-traffic": (NotAbove("bounces", "visits"),),
}


# The date that ends a state which holds "until now" while it is null (a customer not yet
# churned is active in every period up to today): a change there dirties up to today.
OPEN_ENDED_STATES: dict[str, str] = {
    "customers": "churned_at",
    "subscriptions": "cancelled_at",
    "deals": "closed_at",
}


def _with_choice_reader(kind: str, spec: FieldSpec, model_field: models.Field) -> FieldSpec:
    if not spec.choices:
        return spec
    synonyms = CHOICE_SYNONYMS.get((kind, spec.name), {})
    labels = [(str(code), label) for code, label in model_field.flatchoices]
    return replace(spec, read=ChoiceCellReader(labels, synonyms))


def _kind_spec(kind: str, model: type[ActivityRecord]) -> KindSpec:
    bounds = _check_bounds(model)
    fields = tuple(
        _with_choice_reader(kind, _field_spec(f, bounds), f)
        for f in model._meta.concrete_fields
        if f.name not in _NOT_INGESTED and not f.primary_key
    )
    dates = [spec for spec in fields if spec.is_date]
    main_date = next((spec.name for spec in dates if spec.required), dates[0].name if dates else "updated_at")
    natural_keys = tuple(
        tuple(c.fields)
        for c in model._meta.constraints
        if isinstance(c, models.UniqueConstraint) and set(c.fields) != {"team", "external_id"}
    )
    return KindSpec(
        kind=kind,
        model=model,
        fields=fields,
        main_date=main_date,
        rules=KIND_RULES.get(kind, ()),
        open_ended=OPEN_ENDED_STATES.get(kind),
        natural_keys=natural_keys,
    )


KIND_SPECS: dict[str, KindSpec] = {kind: _kind_spec(kind, model) for kind, model in ACTIVITY_MODELS.items()}


class UnknownKind(LookupError):
    """No record kind of this name."""


def kind_spec(kind: str) -> KindSpec:
    """The spec of a record kind by its URL name; UnknownKind if there is none."""
    try:
        return KIND_SPECS[kind]
    except KeyError:
        raise UnknownKind(kind) from None


_EXTERNAL_ID = _max_length(_string, 120)


def external_id_parse(value: Any) -> str:
    """An `external_id`: a non-blank string of at most 120 characters (else `FieldError`)."""
    return _EXTERNAL_ID(value)
