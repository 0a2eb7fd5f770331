"""Alert rules and the webhook endpoints their alerts go to: create, change, delete, with validation.

The only doors for writing rules and endpoints: pages, the REST API and the admin call these.
Errors are django ValidationErrors carrying a translated message per field.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Membership, Team, User
from accounts.selectors import team_ids_with_ancestors, team_ids_with_descendants
from metrics.kpis.periods import Granularity
from metrics.models import KpiDefinition, KpiMeasure
from objectives.models import (
    AlertCondition,
    AlertRule,
    AlertSeverity,
    Budget,
    Target,
)
from objectives.models.alerts import (
    BUDGET_CONDITIONS,
    CHANGE_CONDITIONS,
    FRESHNESS_CONDITIONS,
    KPI_CONDITIONS,
    TARGET_CONDITIONS,
    CompareBasis,
)

SEGMENT_RE = re.compile(r"^(?P<dimension>[a-z_]+)=(?P<value>.+)$")


# Fields a caller may set on a rule; anything else in `data` is ignored.
RULE_FIELDS = (
    "name",
    "condition",
    "kpi",
    "segment",
    "granularity",
    "target",
    "budget",
    "compare_with",
    "threshold",
    "recovery_threshold",
    "change_floor",
    "min_sample",
    "sample_measure",
    "pending_count",
    "severity",
    "recipients",
    "notify_in_app",
    "notify_email",
    "notify_webhook",
    "snoozed_until",
    "active",
)


BOOLEAN_FIELDS = ("notify_in_app", "notify_email", "notify_webhook", "active")
DECIMAL_FIELDS = ("threshold", "recovery_threshold", "change_floor")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidOperation
    result = Decimal(str(value))
    if not result.is_finite():
        raise InvalidOperation
    return result


def _team_member_ids(team: Team) -> set[int]:
    """Users holding a role on the team or on a parent team: those who may receive its alerts."""
    ancestors = team_ids_with_ancestors([team.pk])
    return set(Membership.objects.filter(team_id__in=ancestors).values_list("user_id", flat=True))


def _resolve_kpi(value: Any, errors: dict) -> KpiDefinition | None:
    if value in (None, ""):
        return None
    if isinstance(value, KpiDefinition):
        return value
    kpi = KpiDefinition.objects.filter(code=str(value)).first()
    if kpi is None:
        errors.setdefault("kpi", []).append(_("Unknown KPI '%(code)s'.") % {"code": value})
    return kpi


def _resolve_target(value: Any, team: Team, errors: dict) -> Target | None:
    if value in (None, ""):
        return None
    if isinstance(value, Target):
        target = Target.objects.select_related("objective", "kpi").filter(pk=value.pk).first()
    else:
        try:
            target = Target.objects.select_related("objective", "kpi").filter(pk=int(value)).first()
        except (TypeError, ValueError):
            target = None
    # Another team's target reads as unknown: its existence is not revealed.
    if target is None or target.objective.team_id != team.pk:
        errors.setdefault("target", []).append(_("Unknown objective target for this team."))
        return None
    return target


def _resolve_budget(value: Any, team: Team, errors: dict) -> Budget | None:
    if value in (None, ""):
        return None
    budget_id = value.pk if isinstance(value, Budget) else value
    try:
        budget = Budget.objects.filter(pk=int(budget_id)).first()
    except (TypeError, ValueError):
        budget = None
    # A budget of the team or of a team under it; another team's reads as unknown.
    if budget is None or budget.team_id not in team_ids_with_descendants([team.pk]):
        errors.setdefault("budget", []).append(_("Unknown budget for this team."))
        return None
    return budget


def _resolve_recipients(value: Any, team: Team, errors: dict) -> list[User]:
    ids = []
    for item in value or []:
        ids.append(item.pk if isinstance(item, User) else item)
    try:
        ids = [int(i) for i in ids]
    except (TypeError, ValueError):
        errors.setdefault("recipients", []).append(_("Recipients are given as user ids."))
        return []
    members = _team_member_ids(team)
    outsiders = [i for i in ids if i not in members]
    if outsiders:
        errors.setdefault("recipients", []).append(_("Recipients must be members of the team."))
        return []
    return list(User.objects.filter(pk__in=ids))


def alert_rule_clean(*, team: Team, data: dict, instance: AlertRule | None = None) -> dict:
    """Validate a rule's fields for `team` and return them resolved (KPI, target, recipients as objects).

    `data` may hold a KPI code or object, a target id or object, recipient ids or users.
    With `instance`, missing fields keep the rule's current values. Raises ValidationError.
    """
    errors: dict[str, list[str]] = {}
    current: dict[str, Any] = {}
    if instance is not None:
        current = {f: getattr(instance, f) for f in RULE_FIELDS if f != "recipients"}
        current["recipients"] = list(instance.recipients.all()) if instance.pk else []
    merged = {**current, **{k: v for k, v in data.items() if k in RULE_FIELDS}}
    clean: dict[str, Any] = {}

    condition = merged.get("condition") or ""
    if condition not in AlertCondition.values:
        errors["condition"] = [
            _("Choose a condition among: %(values)s.") % {"values": ", ".join(AlertCondition.values)}
        ]
    clean["condition"] = condition

    for field in DECIMAL_FIELDS:
        try:
            clean[field] = _decimal(merged.get(field))
        except (InvalidOperation, ValueError, TypeError):
            errors[field] = [_("Enter a number.")]
            clean[field] = None

    granularity = merged.get("granularity") or Granularity.MONTH
    if granularity not in Granularity.values:
        errors["granularity"] = [
            _("Choose a granularity among: %(values)s.") % {"values": ", ".join(Granularity.values)}
        ]
    clean["granularity"] = granularity

    severity = merged.get("severity") or AlertSeverity.WARNING
    if severity not in AlertSeverity.values:
        errors["severity"] = [_("Choose a severity among: %(values)s.") % {"values": ", ".join(AlertSeverity.values)}]
    clean["severity"] = severity

    kpi = _resolve_kpi(merged.get("kpi"), errors)
    target = _resolve_target(merged.get("target"), team, errors)
    budget = _resolve_budget(merged.get("budget"), team, errors)
    threshold = clean["threshold"]
    if condition not in BUDGET_CONDITIONS and budget is not None:
        errors["budget"] = [_("Only a budget rule watches a budget; clear it.")]
        budget = None
    if condition in KPI_CONDITIONS or condition in FRESHNESS_CONDITIONS:
        if kpi is None and "kpi" not in errors:
            errors["kpi"] = [_("This condition needs a KPI.")]
        if target is not None:
            errors["target"] = [_("A KPI rule has no objective target; clear it.")]
            target = None
        if threshold is None and "threshold" not in errors:
            if condition in FRESHNESS_CONDITIONS:
                errors["threshold"] = [_("Give the number of days without data.")]
            elif condition != AlertCondition.ANOMALY:  # an anomaly's band comes from the KPI's history
                errors["threshold"] = [_("This condition needs a threshold.")]
        elif condition == AlertCondition.ANOMALY and threshold is not None and threshold <= 0:
            errors["threshold"] = [
                _("An anomaly rule's threshold is the band's width in standard deviations, more than 0 (empty: 3.5).")
            ]
        elif condition in FRESHNESS_CONDITIONS and threshold is not None and threshold < 1:
            errors["threshold"] = [_("The number of days without data must be at least 1.")]
        elif condition in (AlertCondition.CHANGE_ABOVE, AlertCondition.CHANGE_BELOW) and threshold == 0:
            errors["threshold"] = [_("Give the change as a percentage other than 0, e.g. 20 for 20 %.")]
    elif condition in TARGET_CONDITIONS:
        if target is None and "target" not in errors:
            errors["target"] = [_("This condition needs an objective target.")]
        if kpi is not None:
            errors["kpi"] = [_("An objective rule watches its target's KPI; leave the KPI empty.")]
            kpi = None
    elif condition in BUDGET_CONDITIONS:
        if budget is None and "budget" not in errors:
            errors["budget"] = [_("This condition needs a budget.")]
        if kpi is not None or target is not None:
            errors["kpi" if kpi is not None else "target"] = [_("A budget rule watches its budget only; clear it.")]
            kpi = target = None
        if threshold is None and "threshold" not in errors:
            errors["threshold"] = [_("Give the overrun that raises the alert, in % of the budget (0: any).")]
        elif threshold is not None and threshold < 0:
            errors["threshold"] = [_("The overrun is a percentage of the budget, 0 or more.")]
    clean["kpi"] = kpi
    clean["target"] = target
    clean["budget"] = budget

    compare_with = merged.get("compare_with") or CompareBasis.PREVIOUS
    if compare_with not in CompareBasis.values:
        errors["compare_with"] = [
            _("Choose what to compare with among: %(values)s.") % {"values": ", ".join(CompareBasis.values)}
        ]
    elif compare_with != CompareBasis.PREVIOUS and condition not in CHANGE_CONDITIONS:
        errors["compare_with"] = [_("Only change conditions compare with another period.")]
    clean["compare_with"] = compare_with

    segment = (merged.get("segment") or "").strip()
    if segment:
        match = SEGMENT_RE.match(segment)
        if not match:
            errors["segment"] = [_("Write a segment as <dimension>=<value>, e.g. channel=email.")]
        elif kpi is not None and match["dimension"] not in (kpi.segments or []):
            known = ", ".join(kpi.segments or []) or _("none")
            errors["segment"] = [
                _("This KPI has no '%(dimension)s' breakdown (breakdowns: %(known)s).")
                % {"dimension": match["dimension"], "known": known}
            ]
        elif condition in TARGET_CONDITIONS:
            errors["segment"] = [_("An objective rule uses its target's segment; leave it empty.")]
    clean["segment"] = segment

    recovery = clean["recovery_threshold"]
    if recovery is not None and threshold is not None and "recovery_threshold" not in errors:
        # The alert resolves once the value is back past the recovery level: it must lie on the
        # side of the threshold where the condition no longer holds, or the alert would flap.
        # Changes are judged on their size (the sign of the percentages does not matter).
        if condition in (AlertCondition.CHANGE_ABOVE, AlertCondition.CHANGE_BELOW):
            if abs(recovery) > abs(threshold):
                errors["recovery_threshold"] = [_("The recovery change must not be larger than the threshold.")]
        elif condition == AlertCondition.ABOVE and recovery > threshold:
            errors["recovery_threshold"] = [_("The recovery threshold must not be above the threshold.")]
        elif condition == AlertCondition.BELOW and recovery < threshold:
            errors["recovery_threshold"] = [_("The recovery threshold must not be below the threshold.")]
        elif condition in BUDGET_CONDITIONS and recovery > threshold:
            errors["recovery_threshold"] = [_("The recovery threshold must not be above the threshold.")]
    # An anomaly resolves once the value is back within its band: it has no recovery level.
    allowed = (KPI_CONDITIONS - {AlertCondition.ANOMALY}) | BUDGET_CONDITIONS
    if recovery is not None and condition not in allowed and "recovery_threshold" not in errors:
        errors["recovery_threshold"] = [_("Only value, change and budget conditions have a recovery threshold.")]

    if clean["change_floor"] is not None and clean["change_floor"] < 0:
        errors["change_floor"] = [_("The minimum absolute change cannot be negative.")]

    min_sample = merged.get("min_sample")
    if min_sample in ("", None):
        min_sample = None
    else:
        try:
            min_sample = int(min_sample)
            if min_sample < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["min_sample"] = [_("The minimum sample must be a whole number of at least 1.")]
            min_sample = None
    clean["min_sample"] = min_sample

    sample_measure = (merged.get("sample_measure") or "").strip()
    if sample_measure:
        if kpi is None:
            if condition in TARGET_CONDITIONS:
                errors["sample_measure"] = [_("Only KPI rules have a sample measure.")]
        elif not KpiMeasure.objects.filter(kpi=kpi, name=sample_measure).exists():
            names = ", ".join(KpiMeasure.objects.filter(kpi=kpi).values_list("name", flat=True)) or _("none")
            errors["sample_measure"] = [
                _("'%(name)s' is not a measure of this KPI (measures: %(names)s).")
                % {"name": sample_measure, "names": names}
            ]
    clean["sample_measure"] = sample_measure

    pending_count = merged.get("pending_count")
    if pending_count in (None, ""):
        pending_count = 1
    try:
        pending_count = int(pending_count)
        if pending_count < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors["pending_count"] = [_("The number of consecutive breaches must be at least 1.")]
        pending_count = 1
    clean["pending_count"] = pending_count

    clean["recipients"] = _resolve_recipients(merged.get("recipients"), team, errors)
    for field in BOOLEAN_FIELDS:
        value = merged.get(field)
        clean[field] = True if value is None else bool(value)
    clean["snoozed_until"] = merged.get("snoozed_until")

    name = (merged.get("name") or "").strip()
    if len(name) > 200:
        errors["name"] = [_("Keep the name under 200 characters.")]
    if not name and not errors:
        name = _rule_default_name(condition=condition, kpi=kpi, target=target, budget=budget, threshold=threshold)
    clean["name"] = name

    if errors:
        raise ValidationError(errors)
    return clean


def _rule_default_name(*, condition: str, kpi, target, budget, threshold) -> str:
    """A readable name when none is given, e.g. "Revenue — Value above the threshold (1000)"."""
    subject = kpi.name if kpi is not None else target.kpi.name if target is not None else budget.name
    label = str(AlertCondition(condition).label)
    if threshold is None:
        return f"{subject} — {label}"[:200]
    return f"{subject} — {label} ({threshold.normalize():f})"[:200]


@transaction.atomic
def alert_rule_create(*, user: User | None, team: Team, data: dict) -> AlertRule:
    """Create a rule for `team` from validated `data` (see alert_rule_clean); `user` is its author."""
    clean = alert_rule_clean(team=team, data=data)
    recipients = clean.pop("recipients")
    author = user if isinstance(user, User) and user.pk else None
    rule = AlertRule.objects.create(team=team, created_by=author, **clean)
    rule.recipients.set(recipients)
    return rule


@transaction.atomic
def alert_rule_update(*, rule: AlertRule, data: dict) -> AlertRule:
    """Change the fields of `rule` given in `data`; the others keep their values."""
    clean = alert_rule_clean(team=rule.team, data=data, instance=rule)
    recipients = clean.pop("recipients")
    for field, value in clean.items():
        setattr(rule, field, value)
    rule.save()
    rule.recipients.set(recipients)
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule) -> None:
    """Delete a rule with its alerts and their history."""
    rule.delete()
