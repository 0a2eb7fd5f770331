"""Fixtures for objectives: KPI definitions and stored KPI values written directly (no engine needed)."""

from datetime import date, timedelta

import pytest

from metrics.models import KpiDefinition
from tests import factories


@pytest.fixture
def make_kpi(db):
    def make(code: str, *, unit: str = "€", direction: str = "higher", additive: bool = True, **extra):
        kpi, _ = KpiDefinition.objects.update_or_create(
            code=code,
            defaults={
                "name_fr": extra.pop("name_fr", code),
                "name_en": extra.pop("name_en", code),
                "category": "sales",
                "unit": unit,
                "direction": direction,
                "additive": additive,
                "formula": "x",
                **extra,
            },
        )
        return kpi

    return make


@pytest.fixture
def revenue(make_kpi):
    return make_kpi("revenue", name_fr="Chiffre d'affaires", name_en="Revenue")


@pytest.fixture
def churn(make_kpi):
    return make_kpi(
        "churn_rate", unit="%", direction="lower", additive=False, name_fr="Taux d'attrition", name_en="Churn rate"
    )


@pytest.fixture
def store():
    """Write KPI values: store(kpi, team, granularity, period_start, value)."""

    def write(kpi, team, granularity: str, period_start: date, value, segment: str = ""):
        factories.kpi_value(
            kpi=kpi, team=team, granularity=granularity, period_start=period_start, value=value, segment=segment
        )

    return write


@pytest.fixture
def store_daily(store):
    """Store the same daily value on every day of [start, end)."""

    def write(kpi, team, start: date, end: date, value):
        day = start
        while day < end:
            store(kpi, team, "day", day, value)
            day += timedelta(days=1)

    return write
