"""GET /api/v1/kpis/<code>/drivers/: a KPI's change between two date ranges split by measure and by segment.

The breakdown is metrics.kpis.drivers.kpi_drivers (exact, the parts add up to the change); this view reads the
query parameters through a serializer and writes the result. Team isolation goes through
accounts.api.access.request_team: a team the caller may not read is a 404, as an unknown one.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.dates import validate_plausible_date
from metrics.api.kpis import MAX_RANGE_DAYS, KpiQuery, kpi_team_query
from metrics.kpis.drivers import drivers_document, kpi_drivers, like_for_like_span


class DimensionField(serializers.CharField):
    """One of the KPI's breakdown dimensions (the KPI is given in the context)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "only this breakdown dimension, e.g. channel; default: all of the KPI's")
        super().__init__(required=False, allow_blank=False, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        segments = self.parent.kpi.segments or []
        if value not in segments:
            known = ", ".join(segments) or _("none")
            raise serializers.ValidationError(
                _("This KPI has no '%(dimension)s' breakdown (breakdowns: %(known)s).")
                % {"dimension": value, "known": known}
            )
        return value


def _day(help_text: str, **kwargs) -> serializers.DateField:
    return serializers.DateField(validators=[validate_plausible_date], help_text=help_text, **kwargs)


class KpiDriversQuery(KpiQuery):
    """Query parameters of the drivers endpoint: the span, the span compared with (default: like for like)."""

    team = serializers.SlugField(help_text="slug of a team you may read")
    start = _day("first day of the span, included (YYYY-MM-DD)")
    end = _day("last day of the span, included (YYYY-MM-DD)")
    compare_start = _day(
        "first day of the span compared with, included; default: like for like (the same first days of the "
        "previous period, or the whole previous period, or the range of the same length just before)",
        required=False,
    )
    compare_end = _day("last day of the span compared with, included; given with compare_start", required=False)
    dimension = DimensionField()

    def validate(self, attrs: dict) -> dict:
        errors = {}
        for first, last in (("start", "end"), ("compare_start", "compare_end")):
            start, end = attrs.get(first), attrs.get(last)
            if (start is None) != (end is None):
                missing = last if end is None else first
                errors[missing] = _("Give %(first)s and %(last)s together.") % {"first": first, "last": last}
            elif start is not None and start > end:
                errors[first] = _("%(first)s must be on or before %(last)s.") % {"first": first, "last": last}
            elif start is not None and (end - start).days + 1 > MAX_RANGE_DAYS:
                errors[first] = _("At most %(limit)d days per range (%(count)d asked): narrow the dates.") % {
                    "limit": MAX_RANGE_DAYS,
                    "count": (end - start).days + 1,
                }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


_PART = {
    "contribution": serializers.FloatField(help_text="part of the change, in the KPI's unit"),
    "percent": serializers.FloatField(allow_null=True, help_text="part in percentage points of the compared value"),
}
DriversResponse = inline_serializer(
    "KpiDrivers",
    {
        "kpi": serializers.CharField(),
        "team": serializers.CharField(),
        "unit": serializers.CharField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "compare_start": serializers.DateField(),
        "compare_end": serializers.DateField(),
        "value": serializers.FloatField(allow_null=True),
        "compared_value": serializers.FloatField(allow_null=True),
        "change": serializers.FloatField(
            allow_null=True, help_text="value − compared value, rounded; every list of parts adds up to it exactly"
        ),
        "change_percent": serializers.FloatField(allow_null=True),
        "formula": inline_serializer(
            "KpiMeasureDriver",
            {"measure": serializers.CharField(), "label": serializers.CharField(), **_PART},
            many=True,
        ),
        "formula_note": serializers.CharField(help_text="why there is no breakdown by measure; empty when there is"),
        "segments": serializers.DictField(
            child=inline_serializer(
                "KpiSegmentDriver",
                {
                    "segment": serializers.CharField(help_text="the value; empty for records without one"),
                    "label": serializers.CharField(),
                    **_PART,
                    "rate": serializers.FloatField(allow_null=True, help_text="rate effect (ratios only)"),
                    "mix": serializers.FloatField(allow_null=True, help_text="mix effect (ratios only)"),
                },
                many=True,
            ),
            help_text="per dimension, its values' parts, largest first",
        ),
        "segment_notes": serializers.DictField(
            child=serializers.CharField(), help_text="per dimension without a breakdown, why"
        ),
        "method": serializers.CharField(help_text="how the parts are computed, in the caller's language"),
    },
)


class KpiDriversView(APIView):
    """What drove a KPI's change for one team between two date ranges (both ends included): each measure's part
    (Shapley values: exact for sums, differences, products and ratios) and each segment's part (for ratios, its
    rate and mix effects). Every list of parts adds up to `change` exactly. Without compare dates the span is
    compared like for like."""

    @extend_schema(parameters=[KpiDriversQuery], responses={200: DriversResponse})
    def get(self, request, code: str):
        kpi, team, params = kpi_team_query(request, code, KpiDriversQuery)
        span = (params["start"], params["end"] + dt.timedelta(days=1))
        if params.get("compare_start") is not None:
            compare_span = (params["compare_start"], params["compare_end"] + dt.timedelta(days=1))
        else:
            compare_span = like_for_like_span(*span)
        dimension = params.get("dimension")
        drivers = kpi_drivers(
            kpi=kpi,
            team=team,
            span=span,
            compare_span=compare_span,
            dimensions=None if dimension is None else [dimension],
        )
        return Response({**drivers_document(drivers), "team": team.slug})
