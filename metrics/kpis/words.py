"""A KPI's definition in words, for people: each measure (« sum of the amount of completed orders by
order date ») and the formula with the measures' words in place of their names."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import formats
from django.utils.translation import gettext as _

from metrics.engine import formula as formula_lang
from metrics.engine.sources import SOURCES, FieldPathError, resolve_path
from metrics.models import KpiMeasure


def _quoted(text: str) -> str:
    """A field name in the language's quotation marks."""
    return _("“%(text)s”") % {"text": text}


def _field_label(source: str, path: str) -> str:
    """The verbose name of a measure field (following relations: "customer › segment")."""
    model = SOURCES[source].model if source in SOURCES else None
    if model is None or not path:
        return path
    labels = []
    current = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except Exception:  # an admin typo must not break the page: show the path as written
            return path
        labels.append(str(field.verbose_name))
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    return " › ".join(labels)


def _filter_value(source: str, path: str, value: object) -> str:
    if isinstance(value, dict) and "field" in value:
        return _quoted(_field_label(source, value["field"]))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_filter_value(source, path, v) for v in value)
    try:
        field, _crossed = resolve_path(SOURCES[source].model, path)
    except (FieldPathError, KeyError):
        return str(value)
    choices = dict(field.flatchoices) if field.choices else {}
    return str(choices.get(value, value))


def _filter_in_words(source: str, item: dict) -> str:
    if "any" in item:
        return "(" + _(" or ").join(_filter_in_words(source, sub) for sub in item["any"]) + ")"
    path, op, value = item.get("field", ""), item.get("op", ""), item.get("value")
    field = _quoted(_field_label(source, path))
    if op == "isnull":
        return _("%(field)s is empty") % {"field": field} if value else _("%(field)s is set") % {"field": field}
    if op == "in_period":
        return _("%(field)s falls in the period") % {"field": field}
    if op == "in":
        return _("%(field)s is one of %(values)s") % {"field": field, "values": _filter_value(source, path, value)}
    symbol = {"exact": "=", "gte": "≥", "lte": "≤", "gt": ">", "lt": "<"}.get(op, op)
    return f"{field} {symbol} {_filter_value(source, path, value)}"


def measure_in_words(measure: KpiMeasure) -> str:
    """One measure as a phrase: what is aggregated, over which records, bound to the period how, filtered how."""
    source = measure.source
    records = str(SOURCES[source].label) if source in SOURCES else source
    field = _quoted(_field_label(source, measure.field))
    if measure.duration_from:
        unit = {"s": _("seconds"), "h": _("hours"), "d": _("days")}.get(measure.duration_unit, "")
        field = _("the time from %(start)s to %(end)s in %(unit)s") % {
            "start": _quoted(_field_label(source, measure.duration_from)),
            "end": field,
            "unit": unit,
        }
    elif measure.multiply_by:
        field = f"{field} × {_quoted(_field_label(source, measure.multiply_by))}"
    phrases = {
        "count": "%(records)s",
        "count_distinct": _("number of distinct %(field)s among the %(records)s"),
        "sum": _("sum of %(field)s over the %(records)s"),
        "avg": _("mean of %(field)s over the %(records)s"),
        "median": _("median of %(field)s over the %(records)s"),
        "min": _("smallest %(field)s among the %(records)s"),
        "max": _("largest %(field)s among the %(records)s"),
    }
    text = phrases.get(measure.aggregate, "%(records)s") % {"records": records, "field": field}
    if measure.binding == "state":
        text += " " + {
            "start": _("active at the start of the period"),
            "end": _("active at the end of the period"),
            "new": _("new in the period"),
            "lost": _("lost during the period"),
        }.get(measure.state, "")
    elif measure.date_field:
        text += " " + _("whose %(date)s falls in the period") % {
            "date": _quoted(_field_label(source, measure.date_field))
        }
    conditions = [_filter_in_words(source, item) for item in (measure.filters or []) if isinstance(item, dict)]
    if conditions:
        text += ", " + _("where %(conditions)s") % {"conditions": _(" and ").join(conditions)}
    return text


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_SYMBOLS = {"+": "+", "-": "−", "*": "×", "/": "÷"}


def _node_in_words(node, words: dict[str, str], parent: int = 0, right: bool = False) -> str:
    if isinstance(node, formula_lang.Number):
        return formats.number_format(node.value, use_l10n=True)
    if isinstance(node, formula_lang.Name):
        text = words.get(node.name, node.name)
        # A measure with conditions ("…, where status = won") is bracketed inside an expression: one term.
        return f"({text})" if parent and ", " in text else text
    if isinstance(node, formula_lang.Negate):
        return "−" + _node_in_words(node.operand, words, 3)
    if isinstance(node, formula_lang.Call):
        args = [_node_in_words(arg, words) for arg in node.args]
        calls = {
            "prev": lambda: _("%(x)s of the previous period") % {"x": args[0]},
            "if_null": lambda: _("%(x)s (or %(y)s when it has no value)") % {"x": args[0], "y": args[1]},
            "positive": lambda: _("%(x)s when it is positive") % {"x": args[0]},
            "abs": lambda: _("absolute value of %(x)s") % {"x": args[0]},
            "min": lambda: _("the smallest of %(values)s") % {"values": ", ".join(args)},
            "max": lambda: _("the largest of %(values)s") % {"values": ", ".join(args)},
        }
        text = calls[node.function]() if node.function in calls else f"{node.function}({', '.join(args)})"
        return f"({text})" if parent >= 2 else text
    # A percentage reads better with "× 100" last: 100 × a ÷ b is shown as a ÷ b × 100 (the same value).
    if (
        node.op == "/"
        and isinstance(node.left, formula_lang.BinaryOp)
        and node.left.op == "*"
        and isinstance(node.left.left, formula_lang.Number)
    ):
        factor, numerator = node.left.left, node.left.right
        swapped = formula_lang.BinaryOp("*", formula_lang.BinaryOp("/", numerator, node.right), factor)
        return _node_in_words(swapped, words, parent, right)
    mine = _PRECEDENCE[node.op]
    left = _node_in_words(node.left, words, mine)
    # The right operand of − and ÷ needs brackets at the same precedence: a − (b + c), a ÷ (b × c).
    right_text = _node_in_words(node.right, words, mine + (1 if node.op in "-/" else 0), right=True)
    text = f"{left} {_SYMBOLS[node.op]} {right_text}"
    return f"({text})" if mine < parent else text


def formula_in_words(*, formula: str, measures: Sequence[KpiMeasure]) -> str:
    """The KPI's formula with each measure named in plain words, e.g. "Customers lost during the period ÷
    customers active at the start of the period × 100"; the raw formula when it does not parse."""
    try:
        tree = formula_lang.formula_parse(formula).tree
    except formula_lang.FormulaError:
        return formula
    text = _node_in_words(tree, {m.name: measure_in_words(m) for m in measures})
    return "(" + capitalised(text[1:]) if text.startswith("(") else capitalised(text)


def capitalised(text: str) -> str:
    """The text with its first letter in capitals (measure words start lower-case to read inside a sentence)."""
    return text[:1].upper() + text[1:]


def _names(node) -> list[str]:
    if isinstance(node, formula_lang.Name):
        return [node.name]
    if isinstance(node, formula_lang.Negate):
        return _names(node.operand)
    if isinstance(node, formula_lang.BinaryOp):
        return _names(node.left) + _names(node.right)
    if isinstance(node, formula_lang.Call):
        return [name for arg in node.args for name in _names(arg)]
    return []


def zero_divisors(*, formula: str, components: dict) -> list[str]:
    """The measures the formula divides by that are 0 or missing in a stored cell's `components`: why a ratio
    has no value there (no new customers, so no acquisition cost per customer)."""
    try:
        tree = formula_lang.formula_parse(formula).tree
    except formula_lang.FormulaError:
        return []
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, formula_lang.BinaryOp):
            if node.op == "/":
                for name in _names(node.right):
                    value = components.get(name)
                    if (value is None or value == 0) and name not in found:
                        found.append(name)
            walk(node.left)
            walk(node.right)
        elif isinstance(node, formula_lang.Negate):
            walk(node.operand)
        elif isinstance(node, formula_lang.Call):
            for arg in node.args:
                walk(arg)

    walk(tree)
    return found
