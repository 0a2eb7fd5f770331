"""KPI definitions and stored values over the API (DESIGN.md §9).

GET /api/v1/kpis/ lists the active definitions; GET /api/v1/kpis/<code>/values/ returns
a team's stored values for a granularity and date range; GET /api/v1/kpis/<code>/range/ the
KPI over any date range, computed exactly (metrics.kpis.ranges). Team isolation goes through
accounts.api.access.request_team: a team the caller may not read is a 404.
"""

from __future__ import annotations

import datetime as dt
import re

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import request_team
from accounts.models import Team
from kpiplatform.dates import validate_plausible_date
from metrics.engine.periods import Granularity, period_floor, period_shift, period_starts, today_local
from metrics.kpis import ranges, selectors
from metrics.models import KpiCategory, KpiDefinition

MAX_PERIODS = 1000
MAX_RANGE_DAYS = 3700  # ten years and a bit: a range is one grouped query per measure, but over its records
SEGMENT_RE = re.compile(r"^(?P<dimension>[a-z_]+)=(?P<value>.+)$")


class KpiMeasureSerializer(serializers.Serializer):
    name = serializers.CharField()
    source = serializers.CharField()
    aggregate = serializers.CharField()


class KpiDefinitionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    measures = KpiMeasureSerializer(many=True, read_only=True)

    class Meta:
        model = KpiDefinition
        fields = [
            "code",
            "name",
            "name_fr",
            "name_en",
            "description",
            "description_fr",
            "description_en",
            "category",
            "unit",
            "direction",
            "formula",
            "default_granularity",
            "segments",
            "additive",
            "measures",
        ]


class KpiListQuery(serializers.Serializer):
    """Query parameters of the definitions list."""

    category = serializers.ChoiceField(
        choices=KpiCategory.values, required=False, allow_blank=True, help_text="only this category"
    )


@extend_schema(parameters=[KpiListQuery])
class KpiListView(generics.ListAPIView):
    """The active KPI definitions: code, names, unit, direction, formula and measures."""

    serializer_class = KpiDefinitionSerializer

    def get_queryset(self):
        query = KpiListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.kpi_definitions(category=query.validated_data.get("category") or None)


class SegmentField(serializers.CharField):
    """A breakdown `<dimension>=<value>` among the KPI's segments (the KPI is given in the context)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "a breakdown, e.g. channel=email")
        super().__init__(required=False, allow_blank=False, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        kpi = self.parent.kpi
        match = SEGMENT_RE.match(value)
        if not match:
            raise serializers.ValidationError(_("Write a segment as <dimension>=<value>, e.g. channel=email."))
        if match["dimension"] not in (kpi.segments or []):
            known = ", ".join(kpi.segments or []) or _("none")
            raise serializers.ValidationError(
                _("This KPI has no '%(dimension)s' breakdown (breakdowns: %(known)s).")
                % {"dimension": match["dimension"], "known": known}
            )
        return value


class KpiQuery(serializers.Serializer):
    """Query parameters about one KPI (its breakdowns check `segment`)."""

    def __init__(self, *args, kpi: KpiDefinition | None = None, **kwargs):
        # drf-spectacular instantiates the class without a KPI to document the parameters.
        super().__init__(*args, **kwargs)
        self.kpi = kpi


class KpiValuesQuery(KpiQuery):
    """Query parameters of the values endpoint; each wrong one gets its own message."""

    team = serializers.SlugField(help_text="slug of a team you may read")
    granularity = serializers.ChoiceField(choices=Granularity.values, required=False)
    start = serializers.DateField(
        required=False,
        validators=[validate_plausible_date],
        help_text="first date (YYYY-MM-DD); default: 11 periods back",
    )
    end = serializers.DateField(
        required=False,
        validators=[validate_plausible_date],
        help_text="last date, included (YYYY-MM-DD); default: today",
    )
    segment = SegmentField()

    def validate(self, attrs: dict) -> dict:
        granularity = attrs.get("granularity") or self.kpi.default_granularity
        end = attrs.get("end") or today_local()
        start = attrs.get("start") or period_shift(end, granularity, -11)
        if start > end:
            raise serializers.ValidationError({"start": _("start must be on or before end.")})
        count = len(
            period_starts(
                start=period_floor(start, granularity), end=end + dt.timedelta(days=1), granularity=granularity
            )
        )
        if count > MAX_PERIODS:
            raise serializers.ValidationError(
                {
                    "start": _("At most %(limit)d periods per request (%(count)d asked): narrow the dates.")
                    % {"limit": MAX_PERIODS, "count": count}
                }
            )
        return {**attrs, "granularity": granularity, "start": start, "end": end, "segment": attrs.get("segment", "")}


ValuesResponse = inline_serializer(
    "KpiValues",
    {
        "kpi": serializers.CharField(),
        "team": serializers.CharField(),
        "granularity": serializers.CharField(),
        "segment": serializers.CharField(),
        "results": inline_serializer(
            "KpiValue",
            {
                "period_start": serializers.DateField(),
                "value": serializers.FloatField(allow_null=True),
                "components": serializers.DictField(),
            },
            many=True,
        ),
    },
)


def kpi_team_query(request, code: str, query_class: type[serializers.Serializer]) -> tuple[KpiDefinition, Team, dict]:
    """The KPI of the URL (404 if unknown), the query parameters read by `query_class` (400 with each field's
    error) and the team they name, if the caller may read it (404 otherwise, as an unknown team)."""
    kpi = selectors.kpi_definition_by_code(code=code)
    if kpi is None:
        raise Http404(_("No KPI '%(code)s'.") % {"code": code})
    query = query_class(data=request.query_params, kpi=kpi)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    return kpi, request_team(request, params["team"]), params


class KpiValuesView(APIView):
    """Stored values of one KPI for one team: one result per computed period meeting [start, end]."""

    @extend_schema(parameters=[KpiValuesQuery], responses={200: ValuesResponse})
    def get(self, request, code: str):
        kpi, team, params = kpi_team_query(request, code, KpiValuesQuery)
        series = selectors.kpi_value_series(
            kpi=kpi,
            team=team,
            granularity=params["granularity"],
            start=params["start"],
            end=params["end"],
            segment=params["segment"],
        )
        return Response(
            {
                "kpi": kpi.code,
                "team": team.slug,
                "granularity": params["granularity"],
                "segment": params["segment"],
                "results": [
                    {
                        "period_start": item["period_start"].isoformat(),
                        "value": None if item["value"] is None else float(item["value"]),
                        "components": item["components"],
                    }
                    for item in series
                ],
            }
        )


class KpiRangeQuery(KpiQuery):
    """Query parameters of the range endpoint: both dates required and included."""

    team = serializers.SlugField(help_text="slug of a team you may read")
    start = serializers.DateField(
        validators=[validate_plausible_date], help_text="first day of the range, included (YYYY-MM-DD)"
    )
    end = serializers.DateField(
        validators=[validate_plausible_date], help_text="last day of the range, included (YYYY-MM-DD)"
    )
    segment = SegmentField()

    def validate(self, attrs: dict) -> dict:
        start, end = attrs["start"], attrs["end"]
        if start > end:
            raise serializers.ValidationError({"start": _("start must be on or before end.")})
        days = (end - start).days + 1
        if days > MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {
                    "start": _("At most %(limit)d days per range (%(count)d asked): narrow the dates.")
                    % {"limit": MAX_RANGE_DAYS, "count": days}
                }
            )
        return {**attrs, "segment": attrs.get("segment", "")}


RangeResponse = inline_serializer(
    "KpiRangeValue",
    {
        "kpi": serializers.CharField(),
        "team": serializers.CharField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "segment": serializers.CharField(),
        "value": serializers.FloatField(allow_null=True),
        "components": serializers.DictField(),
    },
)


class KpiRangeView(APIView):
    """One KPI for one team over any date range (both ends included, in the organisation's time zone),
    computed exactly as calendar periods are — medians, distinct counts, states and prev() (the preceding
    range of the same length) included. A range that is exactly a calendar period gives the stored value."""

    @extend_schema(parameters=[KpiRangeQuery], responses={200: RangeResponse})
    def get(self, request, code: str):
        kpi, team, params = kpi_team_query(request, code, KpiRangeQuery)
        window = (params["start"], params["end"] + dt.timedelta(days=1))
        found = ranges.range_values(
            kpi=kpi, team=team, segment=params["segment"], windows=[window], with_components=True
        )[window]
        return Response(
            {
                "kpi": kpi.code,
                "team": team.slug,
                "start": params["start"].isoformat(),
                "end": params["end"].isoformat(),
                "segment": params["segment"],
                "value": None if found.value is None else float(found.value),
                "components": found.components,
            }
        )
