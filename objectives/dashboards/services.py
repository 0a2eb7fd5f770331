"""Writes of dashboards: a team's choice of cards and of charts."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from metrics.models import KpiDefinition
from objectives.dashboards.cards import MAX_CARDS
from objectives.dashboards.panels import PANELS_BY_KEY
from objectives.models import DashboardCard, DashboardPanel


@transaction.atomic
def dashboard_cards_set(*, team: Team, kpi_codes: Sequence[str]) -> list[str]:
    """Make these active KPIs, in this order, the team's dashboard cards; an empty list restores the defaults.

    Raises ValidationError (nothing changed) on an unknown or inactive KPI, a repeated one, or more than
    MAX_CARDS cards.
    """
    codes = list(kpi_codes)
    if len(codes) > MAX_CARDS:
        raise ValidationError(
            _("At most %(max)d cards: remove one before adding another."), code="too_many", params={"max": MAX_CARDS}
        )
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValidationError(
            _("Each KPI appears once: %(codes)s repeated."), code="repeated", params={"codes": ", ".join(repeated)}
        )
    kpis = {k.code: k for k in KpiDefinition.objects.filter(code__in=codes, active=True)}
    unknown = [c for c in codes if c not in kpis]
    if unknown:
        raise ValidationError(
            _("Unknown or inactive KPI: %(codes)s."), code="unknown", params={"codes": ", ".join(unknown)}
        )
    # Lock the team row so two managers saving at once replace the list one after the other.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    DashboardCard.objects.filter(team=team).delete()
    DashboardCard.objects.bulk_create(
        DashboardCard(team=team, kpi=kpis[code], position=position) for position, code in enumerate(codes)
    )
    return codes


@transaction.atomic
def dashboard_panels_set(*, team: Team, keys: Sequence[str]) -> list[str]:
    """Make these charts of the panel registry, in this order, the team's dashboard charts; an empty list restores
    its kind's defaults.

    Raises ValidationError (nothing changed) on a key the registry does not know or a repeated one.
    """
    keys = list(keys)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValidationError(
            _("Each chart appears once: %(keys)s repeated."), code="repeated", params={"keys": ", ".join(repeated)}
        )
    unknown = [k for k in keys if k not in PANELS_BY_KEY]
    if unknown:
        raise ValidationError(_("Unknown chart: %(value)s."), code="unknown", params={"value": ", ".join(unknown)})
    # Lock the team row so two managers saving at once replace the list one after the other.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    DashboardPanel.objects.filter(team=team).delete()
    DashboardPanel.objects.bulk_create(
        DashboardPanel(team=team, key=key, position=position) for position, key in enumerate(keys)
    )
    return keys
