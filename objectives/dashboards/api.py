"""API of dashboards (DESIGN.md §9): a team's scorecard, the numbers its dashboard shows, from the same selector."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import request_team
from kpiplatform.dates import validate_plausible_date
from metrics.kpis.comparisons import BASES, PREVIOUS
from metrics.kpis.periods import today_local
from objectives.dashboards.team import team_dashboard

PERIODS = {"month": "this_month", "quarter": "this_quarter", "year": "this_year"}
NUMBER = {"allow_null": True}


class ScorecardQuery(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(PERIODS), default="month", help_text="month, quarter or year")
    date = serializers.DateField(
        required=False,
        validators=[validate_plausible_date],
        help_text="the day to read the scorecard as of (YYYY-MM-DD); default: today",
    )
    compare = serializers.ChoiceField(
        choices=list(BASES), default=PREVIOUS, help_text="previous (the period before) or last_year"
    )

    def validate_date(self, value):
        if value > today_local():
            raise serializers.ValidationError(_("The date cannot be after today."))
        return value


ScorecardResponse = inline_serializer(
    "Scorecard",
    {
        "team": serializers.CharField(),
        "period": serializers.CharField(),
        "date": serializers.DateField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "cards": inline_serializer(
            "ScorecardCard",
            {
                "kpi": serializers.CharField(),
                "name": serializers.CharField(),
                "unit": serializers.CharField(),
                "value": serializers.FloatField(**NUMBER, help_text="the period's value as of `date`"),
                "compared_value": serializers.FloatField(**NUMBER),
                "compared_span": inline_serializer(
                    "ScorecardSpan",
                    {
                        "start": serializers.DateField(),
                        "end": serializers.DateField(),
                        "like_for_like": serializers.BooleanField(),
                        "label": serializers.CharField(),
                    },
                ),
                "change": serializers.FloatField(**NUMBER, help_text="in points for rates and scores, else in %"),
                "change_unit": serializers.CharField(),
                "change_percent": serializers.FloatField(**NUMBER),
                "target": serializers.FloatField(**NUMBER, help_text="the target of the period shown"),
                "objective_target": serializers.FloatField(**NUMBER),
                "expected": serializers.FloatField(**NUMBER, help_text="expected by `date` (sums)"),
                "progress_percent": serializers.FloatField(**NUMBER, help_text="share of the period's target (sums)"),
                "gap": serializers.FloatField(**NUMBER, help_text="value − target (rates, averages)"),
                "forecast": serializers.FloatField(**NUMBER),
                "status": serializers.CharField(allow_null=True),
                "recommendation": serializers.CharField(allow_null=True),
            },
            many=True,
        ),
    },
)


def _number(value):
    return None if value is None else float(value)


def scorecard_card(card: dict) -> dict:
    """One card of the dashboard as the API gives it: the same numbers, flat."""
    target = card.get("target") or {}
    return {
        "kpi": card["code"],
        "name": card["name"],
        "unit": card["unit"],
        "value": _number(card["value"]) if card["has_data"] else None,
        "compared_value": _number(card["previous_value"]) if card.get("comparable") else None,
        "compared_span": card["compared_span"],
        "change": _number(card["change"]),
        "change_unit": card["change_unit"],
        "change_percent": _number(card["change_percent"]),
        "target": _number(target.get("value")),
        "objective_target": _number(target.get("objective_value")),
        "expected": _number(target.get("expected")),
        "progress_percent": _number(target.get("progress_percent")),
        "gap": _number(target.get("gap")),
        "forecast": _number(target.get("forecast")),
        "status": target.get("status"),
        "recommendation": target.get("recommendation") or None,
    }


class ScorecardView(APIView):
    """What a team's dashboard shows for a period, as of a day: each card's value to date, what it is compared
    with (like for like on a running period), the change, the target of the period and the value expected by
    then, and — when an objective sets one — its forecast, status and recommendation (the objective's latest)."""

    @extend_schema(parameters=[ScorecardQuery], responses={200: ScorecardResponse})
    def get(self, request, slug: str):
        query = ScorecardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        team = request_team(request, slug)
        today = today_local()
        day = query.validated_data.get("date") or today
        data = team_dashboard(
            team=team,
            period=PERIODS[query.validated_data["period"]],
            today=day,
            replay=day < today,
            compare=query.validated_data["compare"],
        )
        return Response(
            {
                "team": team.slug,
                "period": query.validated_data["period"],
                "date": day.isoformat(),
                "start": data["period"]["start"].isoformat(),
                "end": data["period"]["end"].isoformat(),
                "cards": [scorecard_card(card) for card in data["cards"]],
            }
        )


urlpatterns = [path("teams/<slug:slug>/scorecard/", ScorecardView.as_view(), name="api-team-scorecard")]
