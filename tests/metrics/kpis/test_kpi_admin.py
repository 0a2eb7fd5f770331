"""The admin creates and edits KPIs from the same building blocks; formulas are checked on save."""

import pytest

from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition

ADD_URL = "/admin/metrics/kpidefinition/add/"


@pytest.fixture
def admin_client_(client, make_user):
    client.force_login(make_user("root", staff=True))
    return client


def kpi_form(formula: str, *measures: dict, **fields) -> dict:
    data = {
        "code": "orders_over_100",
        "name_fr": "Grosses commandes",
        "name_en": "Large orders",
        "description_fr": "",
        "description_en": "",
        "formula": formula,
        "segments": "[]",
        "default_granularity": "month",
        "category": "sales",
        "unit": "%",
        "direction": "higher",
        "active": "on",
        "measures-TOTAL_FORMS": str(len(measures)),
        "measures-INITIAL_FORMS": "0",
        "measures-MIN_NUM_FORMS": "0",
        "measures-MAX_NUM_FORMS": "1000",
        **fields,
    }
    defaults = {"filters": "[]", "binding": "event", "min_count": "1", "position": "0"}
    for index, measure in enumerate(measures):
        for key, value in {**defaults, **measure}.items():
            data[f"measures-{index}-{key}"] = value
    return data


LARGE = {
    "name": "large",
    "source": "orders",
    "aggregate": "count",
    "date_field": "ordered_at",
    "filters": '[{"field": "amount", "op": "gte", "value": 100}]',
}
ALL = {"name": "all_orders", "source": "orders", "aggregate": "count", "date_field": "ordered_at"}


def test_admin_creates_a_kpi_without_code(admin_client_):
    response = admin_client_.post(ADD_URL, kpi_form("100 * large / all_orders", LARGE, ALL))
    assert response.status_code == 302, response.content.decode()[:2000]
    kpi = KpiDefinition.objects.get(code="orders_over_100")
    assert [m.name for m in kpi.measures.all()] == ["large", "all_orders"]


def test_admin_refuses_a_formula_naming_an_unknown_measure(admin_client_):
    response = admin_client_.post(ADD_URL, kpi_form("100 * large / everything", LARGE, ALL))
    assert response.status_code == 200
    assert "Unknown measure everything (measures of this KPI: all_orders, large)" in response.content.decode()
    assert not KpiDefinition.objects.filter(code="orders_over_100").exists()


def test_admin_refuses_a_formula_with_a_syntax_error(admin_client_):
    response = admin_client_.post(ADD_URL, kpi_form("100 * (large / all_orders", LARGE, ALL))
    assert response.status_code == 200
    assert "Expected &#x27;)&#x27; at position 26" in response.content.decode()
    assert not KpiDefinition.objects.filter(code="orders_over_100").exists()


def test_admin_refuses_an_invalid_measure(admin_client_):
    bad = {**LARGE, "aggregate": "sum", "field": "channel"}
    response = admin_client_.post(ADD_URL, kpi_form("large", bad))
    assert response.status_code == 200
    assert "channel is not a numeric field" in response.content.decode()
    assert not KpiDefinition.objects.exists()


def test_admin_refuses_a_segment_the_sources_lack(admin_client_):
    response = admin_client_.post(ADD_URL, kpi_form("large", LARGE, segments='["touchpoint"]'))
    assert response.status_code == 200
    assert "&#x27;touchpoint&#x27; is not a dimension of orders" in response.content.decode()


def test_admin_lists_and_opens_the_catalogue(admin_client_):
    kpi_catalogue_load()
    assert admin_client_.get("/admin/metrics/kpidefinition/").status_code == 200
    nps = KpiDefinition.objects.get(code="nps")
    page = admin_client_.get(f"/admin/metrics/kpidefinition/{nps.pk}/change/")
    assert page.status_code == 200 and "promoters" in page.content.decode()
    assert admin_client_.get("/admin/metrics/kpivalue/").status_code == 200


def test_saving_a_kpi_in_the_admin_queues_a_recompute_of_its_values(
    admin_client_, monkeypatch, django_capture_on_commit_callbacks
):
    # Given the task queue, when a KPI is saved, a recompute of that KPI alone is queued after commit
    # (stored short periods are what incremental recomputes build long ones from).
    from metrics.recompute import tasks

    queued = []
    monkeypatch.setattr(tasks.recompute_kpis_task, "apply_async", lambda args, kwargs, **_: queued.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(ADD_URL, kpi_form("100 * large / all_orders", LARGE, ALL))
    assert response.status_code == 302
    assert queued == [{"kpi_codes": ["orders_over_100"]}]


def test_a_refused_kpi_queues_nothing(admin_client_, monkeypatch, django_capture_on_commit_callbacks):
    from metrics.recompute import tasks

    queued = []
    monkeypatch.setattr(tasks.recompute_kpis_task, "apply_async", lambda args, kwargs, **_: queued.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(ADD_URL, kpi_form("100 * large / nope", LARGE, ALL))
    assert response.status_code == 200
    assert queued == []
