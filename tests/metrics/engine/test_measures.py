"""Measure specs are validated against the source's model, with a message per field."""

import pytest

from metrics.engine.measures import MeasureSpec, measure_spec_errors


def spec(**fields) -> MeasureSpec:
    defaults = {"source": "orders", "aggregate": "count", "date_field": "ordered_at"}
    return MeasureSpec(**{**defaults, **fields})


def test_valid_specs_have_no_errors():
    assert measure_spec_errors(spec()) == {}
    assert (
        measure_spec_errors(
            spec(
                aggregate="sum",
                field="amount",
                filters_json='[{"field": "status", "op": "exact", "value": "completed"}]',
            )
        )
        == {}
    )  # noqa: E501
    assert (
        measure_spec_errors(
            spec(
                source="customers",
                binding="state",
                date_field="",
                active_from="acquired_at",
                active_to="churned_at",
                state="start",
            )  # fmt: skip
        )
        == {}
    )


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"source": "nope"}, "source", "Unknown source 'nope'"),
        ({"aggregate": "mode"}, "aggregate", "Unknown aggregate 'mode'"),
        ({"aggregate": "sum"}, "field", "sum needs a field"),
        ({"aggregate": "sum", "field": "channel"}, "field", "channel is not a numeric field"),
        ({"aggregate": "sum", "field": "price"}, "field", "order has no field 'price'"),
        ({"aggregate": "count", "field": "amount"}, "field", "leave field empty"),
        ({"aggregate": "avg", "field": "ordered_at", "duration_from": "ordered_at"}, "duration_unit", "needs a unit"),
        ({"date_field": ""}, "date_field", "needs the date field"),
        ({"date_field": "amount"}, "date_field", "amount is not a date"),
        ({"aggregate": "sum", "field": "amount", "min_count": 2}, "min_count", "Only count_distinct"),
        ({"binding": "state", "date_field": "", "active_from": "amount", "state": "start"}, "active_from",
         "not a date"),
        ({"filters_json": '[{"field": "status", "op": "like", "value": "x"}]'}, "filters", "op must be one of"),
        ({"filters_json": '[{"field": "status", "op": "exact", "value": "done"}]'}, "filters", "'done' is not a value"),
        ({"filters_json": '[{"field": "is_upsell", "op": "exact", "value": "yes"}]'}, "filters", "true or false"),
        ({"filters_json": '[{"field": "amount", "op": "isnull", "value": true}]'}, "filters", "never empty"),
        ({"filters_json": '[{"field": "customer__name__x", "op": "isnull", "value": true}]'}, "filters",
         "not a relation"),
        ({"filters_json": '[{"field": "customer", "op": "exact", "value": 3}]'}, "filters", "customer__external_id"),
        ({"filters_json": '{"field": "status"}'}, "filters", "a list"),
        (
            {"source": "customers", "binding": "state", "date_field": "", "active_from": "acquired_at",
             "active_to": "churned_at", "state": "end",
             "filters_json": '[{"field": "acquired_at", "op": "in_period"}]'},
            "filters",
            "in_period needs an event-bound measure",
        ),
        (
            {"source": "customers", "binding": "state", "date_field": "", "active_from": "acquired_at",
             "active_to": "name", "state": "end"},
            "active_to",
            "not a date",
        ),
        ({"source": "customers", "binding": "state", "date_field": "", "active_from": "acquired_at"}, "state", ""),
    ],
)  # fmt: skip
def test_invalid_specs_are_explained(fields, key, message):
    errors = measure_spec_errors(spec(**fields))
    assert key in errors
    assert message in " ".join(errors[key])


def test_a_measure_knows_which_record_kinds_it_reads():
    # new net revenue reads orders and, through its in_period filter, customers
    reading = spec(
        aggregate="sum", field="amount", filters_json='[{"field": "customer__acquired_at", "op": "in_period"}]'
    )
    assert reading.record_kinds() == {"orders", "customers"}
    assert spec().record_kinds() == {"orders"}
