"""API of budgets (DESIGN.md §9): GET|POST /api/v1/budgets/ — a team's planned spend and where it stands."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import request_team, request_team_ids
from kpiplatform.dates import validate_plausible_date
from metrics.kpis.periods import today_local
from metrics.models import Campaign
from metrics.models.activity import SpendCategory
from objectives.budgets.selectors import budget_burns, budgets_of
from objectives.budgets.services import budget_create
from objectives.models import ProgressStatus

MONEY = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": False}


class BudgetInSerializer(serializers.Serializer):
    team = serializers.SlugField(help_text="slug of a team you manage")
    name = serializers.CharField(max_length=120)
    category = serializers.ChoiceField(choices=SpendCategory.choices)
    channel = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    campaign = serializers.CharField(
        max_length=120, required=False, allow_null=True, default=None, help_text="a campaign's external_id"
    )
    start_date = serializers.DateField(validators=[validate_plausible_date])
    end_date = serializers.DateField(validators=[validate_plausible_date])
    amount = serializers.DecimalField(min_value=0, **MONEY)

    def validate(self, attrs: dict) -> dict:
        if attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": _("The last day must be on or after the first day.")})
        return attrs


class BudgetOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="budget.id")
    team = serializers.CharField(source="budget.team.slug")
    name = serializers.CharField(source="budget.name")
    category = serializers.CharField(source="budget.category")
    channel = serializers.CharField(source="budget.channel")
    campaign = serializers.CharField(source="budget.campaign.external_id", allow_null=True, default=None)
    start_date = serializers.DateField(source="budget.start_date")
    end_date = serializers.DateField(source="budget.end_date")
    amount = serializers.DecimalField(source="budget.amount", **MONEY)
    spent = serializers.DecimalField(**MONEY, help_text="recorded spend from the first day to today")
    expected = serializers.DecimalField(**MONEY, help_text="the amount pro rata of the days gone")
    forecast = serializers.DecimalField(**MONEY, allow_null=True, help_text="the spend at the end at today's rate")
    status = serializers.ChoiceField(choices=ProgressStatus.choices)


class BudgetQuery(serializers.Serializer):
    team = serializers.SlugField(required=False, help_text="only this team's budgets")


class BudgetListCreateView(APIView):
    """Budgets of the teams you may read, each with its spend to date, expected spend, forecast and status;
    POST records a budget for a team you manage."""

    @extend_schema(parameters=[BudgetQuery], responses={200: BudgetOutSerializer(many=True)})
    def get(self, request):
        query = BudgetQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data.get("team"):
            team_ids = {request_team(request, query.validated_data["team"]).pk}
        else:
            team_ids = request_team_ids(request)
        burns = budget_burns(budgets=budgets_of(team_ids=team_ids), today=today_local())
        return Response(BudgetOutSerializer(burns, many=True).data)

    @extend_schema(request=BudgetInSerializer, responses={201: BudgetOutSerializer})
    def post(self, request):
        data = BudgetInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        team = request_team(request, fields.pop("team"), write=True)
        campaign_ref = fields.pop("campaign")
        campaign = None
        if campaign_ref:
            campaign = Campaign.objects.filter(team=team, external_id=campaign_ref).first()
            if campaign is None:
                raise serializers.ValidationError({"campaign": [_("No campaign with this external_id in the team.")]})
        try:
            budget = budget_create(team=team, campaign=campaign, **fields)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        [burn] = budget_burns(budgets=[budget], today=today_local())
        return Response(BudgetOutSerializer(burn).data, status=status.HTTP_201_CREATED)


urlpatterns = [path("budgets/", BudgetListCreateView.as_view(), name="api-budgets")]
