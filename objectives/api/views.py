"""REST API for objectives (DESIGN.md §9): input serializer → one service → output serializer."""

from datetime import timedelta

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api.access import request_team, request_team_ids
from accounts.models import User
from kpiplatform.dates import validate_plausible_date
from metrics.models import KpiDefinition
from objectives import proposals, selectors, services
from objectives.models import Judged, Objective, ObjectiveState, ProgressStatus, RelativeBasis

NUMBER = {"max_digits": 20, "decimal_places": 6, "coerce_to_string": False}


class TargetInSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="Existing target to update (PATCH).")
    kpi = serializers.CharField(help_text="KPI code, e.g. revenue.")
    target_value = serializers.DecimalField(
        required=False,
        allow_null=True,
        help_text="Required unless the target is relative (relative_basis), which computes it.",
        **NUMBER,
    )
    minimum_value = serializers.DecimalField(
        required=False,
        allow_null=True,
        help_text="Band: the least acceptable outcome; behind its pace the target is off track.",
        **NUMBER,
    )
    stretch_value = serializers.DecimalField(
        required=False, allow_null=True, help_text="Band: the ambitious outcome (drawn on charts).", **NUMBER
    )
    relative_basis = serializers.ChoiceField(
        choices=RelativeBasis.choices,
        required=False,
        allow_blank=True,
        help_text="A relative target: last_year (the same period a year earlier) or baseline (the KPI over the "
        "preceding period; then leave baseline_value out). Its value is recomputed with the history.",
    )
    relative_percent = serializers.DecimalField(
        max_digits=9,
        decimal_places=2,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="Change vs the basis in percent, e.g. 20 for +20 %.",
    )
    baseline_value = serializers.DecimalField(
        required=False, allow_null=True, help_text="Default: the KPI over the preceding period.", **NUMBER
    )
    segment = serializers.CharField(required=False, allow_blank=True, default="")
    judged = serializers.ChoiceField(choices=Judged.choices, required=False, default=Judged.PERIOD)
    warning_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, coerce_to_string=False)
    critical_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, coerce_to_string=False)

    def validate_kpi(self, value: str) -> KpiDefinition:
        kpi = KpiDefinition.objects.filter(code=value).first()
        if kpi is None:
            raise serializers.ValidationError(_("Unknown KPI '%(code)s'.") % {"code": value})
        return kpi


class ObjectiveInSerializer(serializers.Serializer):
    team = serializers.SlugField(help_text="Slug of the objective's team.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    relevance_note = serializers.CharField(required=False, allow_blank=True, default="")
    start_date = serializers.DateField(validators=[validate_plausible_date])
    due_date = serializers.DateField(
        validators=[validate_plausible_date], help_text="Last day of the objective (included)."
    )
    parent = serializers.IntegerField(required=False, allow_null=True, default=None)
    owner = serializers.CharField(required=False, allow_null=True, help_text="Username; default: the caller.")
    state = serializers.ChoiceField(choices=ObjectiveState.choices, required=False, default=ObjectiveState.ACTIVE)
    targets = TargetInSerializer(many=True, allow_empty=False)


class ObjectiveListQuery(serializers.Serializer):
    """Query parameters of the objectives list."""

    team = serializers.SlugField(required=False, allow_blank=True, help_text="Team slug")
    status = serializers.ChoiceField(choices=ProgressStatus.choices, required=False, allow_blank=True)


class ObjectivePatchSerializer(ObjectiveInSerializer):
    team = None

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class LetterSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class SmartSerializer(serializers.Serializer):
    specific = LetterSerializer()
    measurable = LetterSerializer()
    achievable = LetterSerializer()
    relevant = LetterSerializer()
    time_bound = LetterSerializer()


class TargetOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kpi = serializers.CharField(source="kpi.code")
    segment = serializers.CharField()
    baseline_value = serializers.DecimalField(**NUMBER, allow_null=True)
    target_value = serializers.DecimalField(**NUMBER)
    minimum_value = serializers.DecimalField(**NUMBER, allow_null=True)
    stretch_value = serializers.DecimalField(**NUMBER, allow_null=True)
    relative_basis = serializers.CharField(help_text="last_year, baseline, or empty for a fixed target.")
    relative_percent = serializers.DecimalField(max_digits=9, decimal_places=2, coerce_to_string=False, allow_null=True)
    judged = serializers.CharField()
    warning_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    critical_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    phasing = serializers.CharField()
    current_value = serializers.DecimalField(**NUMBER, allow_null=True)
    progress_percent = serializers.DecimalField(**NUMBER, allow_null=True)
    expected_value_today = serializers.DecimalField(**NUMBER, allow_null=True)
    forecast_value = serializers.DecimalField(**NUMBER, allow_null=True)
    required_daily_rate = serializers.DecimalField(**NUMBER, allow_null=True)
    pace_so_far = serializers.DecimalField(**NUMBER, allow_null=True, help_text="Value per elapsed day (sums).")
    required_pace = serializers.DecimalField(
        **NUMBER, allow_null=True, help_text="What is still missing per remaining day (sums)."
    )
    best_pace = serializers.DecimalField(
        **NUMBER,
        allow_null=True,
        help_text="The team's best daily average over a span as long as what is left (sums), or its best value "
        "over a period like the objective's (rates, averages).",
    )
    recommendation = serializers.CharField(help_text="maintain, reinforce or revise; empty once the period is over.")
    recommendation_reason = serializers.CharField(
        help_text="on_track, within_best, beyond_best, no_history, nearly_over, missed or over."
    )
    status = serializers.ChoiceField(choices=ProgressStatus.choices)
    computed_at = serializers.DateTimeField(allow_null=True)


class ObjectiveOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.CharField(source="team.slug")
    title = serializers.CharField()
    description = serializers.CharField()
    relevance_note = serializers.CharField()
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    start_date = serializers.DateField()
    due_date = serializers.DateField()
    state = serializers.ChoiceField(choices=ObjectiveState.choices)
    status = serializers.ChoiceField(
        source="progress_status", choices=ProgressStatus.choices, help_text="The worst of its targets' statuses."
    )
    progress_computed_at = serializers.DateTimeField(allow_null=True)
    targets = TargetOutSerializer(many=True, source="targets.all")


class ObjectiveDetailOutSerializer(ObjectiveOutSerializer):
    smart = serializers.SerializerMethodField()

    @extend_schema(responses=SmartSerializer)
    def get_smart(self, objective) -> dict:
        return selectors.objective_smart(objective=objective)


def _objectives_readable(request):
    ids = request_team_ids(request)
    objectives = Objective.objects.select_related("team", "owner").prefetch_related("targets__kpi")
    return objectives if ids is None else objectives.filter(team_id__in=ids)


def _resolve_refs(request, data: dict, team) -> dict:
    """Turn the parent id and owner username into objects; unknown ones (and ones the caller may not see: another
    team's objective or user) are the same field errors."""
    errors = {}
    if data.get("parent") is not None:
        parent = _objectives_readable(request).filter(pk=data["parent"]).first()
        if parent is None:
            errors["parent"] = [_("Unknown objective %(id)s.") % {"id": data["parent"]}]
        data["parent"] = parent
    if "owner" in data:
        if isinstance(data["owner"], User):
            pass  # the caller, by default: the service checks the role
        elif data["owner"]:
            # Looked up among the team's members only: someone of another team reads as unknown.
            owner = account_selectors.team_members_by_username(team=team, usernames=[data["owner"]]).get(data["owner"])
            if owner is None:
                errors["owner"] = [_("Unknown user « %(name)s » in this team.") % {"name": data["owner"]}]
            data["owner"] = owner
        else:
            data["owner"] = None
    if errors:
        raise serializers.ValidationError(errors)
    return data


def _validate(serializer: serializers.Serializer) -> None:
    """Validate; per-target errors come back as a list aligned with the targets sent ({} when fine)."""
    if serializer.is_valid():
        return
    errors = dict(serializer.errors)
    targets = errors.get("targets")
    sent = serializer.initial_data.get("targets") if hasattr(serializer.initial_data, "get") else None
    if isinstance(targets, dict) and isinstance(sent, list):
        errors["targets"] = [targets.get(i, targets.get(str(i), {})) for i in range(len(sent))]
    raise serializers.ValidationError(errors)


def _run(service, **kwargs):
    try:
        return service(**kwargs)
    except services.ObjectiveError as error:
        raise serializers.ValidationError(error.errors) from error


class ObjectiveListCreateView(GenericAPIView):
    """List the objectives of the caller's teams, or create one (managers of its team)."""

    serializer_class = ObjectiveOutSerializer

    def get_queryset(self):
        query = ObjectiveListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        objectives = _objectives_readable(self.request).order_by("due_date", "id")
        if team := query.validated_data.get("team"):
            objectives = objectives.filter(team=request_team(self.request, team))
        if progress_status := query.validated_data.get("status"):
            objectives = objectives.filter(progress_status=progress_status)
        return objectives

    @extend_schema(parameters=[ObjectiveListQuery], responses=ObjectiveOutSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ObjectiveOutSerializer(page, many=True).data)

    @extend_schema(request=ObjectiveInSerializer, responses={201: ObjectiveDetailOutSerializer})
    def post(self, request):
        # Team access first: a caller who may not write to the team learns nothing about its data.
        slug = request.data.get("team") if hasattr(request.data, "get") else None
        if isinstance(slug, str) and slug:
            request_team(request, slug, write=True)
        serializer = ObjectiveInSerializer(data=request.data)
        _validate(serializer)
        data = dict(serializer.validated_data)
        team = request_team(request, data.pop("team"), write=True)
        if "owner" not in data and isinstance(request.user, User) and request.user.is_authenticated:
            data["owner"] = request.user
        data = _resolve_refs(request, data, team)
        targets = [dict(t) for t in data.pop("targets")]
        objective = _run(services.objective_create, team=team, targets=targets, **data)
        return Response(ObjectiveDetailOutSerializer(objective).data, status=status.HTTP_201_CREATED)


class ObjectiveDetailView(GenericAPIView):
    """Read, change (managers) or delete (managers) one objective."""

    serializer_class = ObjectiveDetailOutSerializer

    def get_object(self, *, write: bool = False) -> Objective:
        objective = _objectives_readable(self.request).filter(pk=self.kwargs["pk"]).first()
        if objective is None:
            raise Http404("No such objective visible to you.")
        if write:
            allowed = request_team_ids(self.request, write=True)
            if allowed is not None and objective.team_id not in allowed:
                raise PermissionDenied("Only the team's managers may change its objectives.")
        return objective

    def get(self, request, pk: int):
        return Response(ObjectiveDetailOutSerializer(self.get_object()).data)

    @extend_schema(request=ObjectivePatchSerializer, responses=ObjectiveDetailOutSerializer)
    def patch(self, request, pk: int):
        objective = self.get_object(write=True)
        serializer = ObjectivePatchSerializer(data=request.data)
        _validate(serializer)
        data = _resolve_refs(request, dict(serializer.validated_data), objective.team)
        targets = [dict(t) for t in data.pop("targets")] if "targets" in data else None
        objective = _run(services.objective_update, objective=objective, targets=targets, **data)
        objective = _objectives_readable(request).get(pk=objective.pk)
        return Response(ObjectiveDetailOutSerializer(objective).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.objective_delete(objective=self.get_object(write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TargetProposalQuery(serializers.Serializer):
    """Query parameters of a target proposal; each wrong one gets its own message."""

    kpi = serializers.CharField(help_text="KPI code, e.g. revenue.")
    team = serializers.SlugField(help_text="slug of a team you may read")
    start = serializers.DateField(validators=[validate_plausible_date], help_text="first day, included (YYYY-MM-DD)")
    end = serializers.DateField(validators=[validate_plausible_date], help_text="last day, included (YYYY-MM-DD)")
    segment = serializers.CharField(required=False, allow_blank=True, default="", help_text="e.g. channel=email")

    def validate_kpi(self, value: str) -> KpiDefinition:
        kpi = KpiDefinition.objects.filter(code=value).first()
        if kpi is None:
            raise serializers.ValidationError(_("Unknown KPI '%(code)s'.") % {"code": value})
        return kpi

    def validate(self, attrs: dict) -> dict:
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": _("start must be on or before end.")})
        days = (attrs["end"] - attrs["start"]).days + 1
        if days > proposals.MAX_SPAN_DAYS:
            raise serializers.ValidationError(
                {
                    "end": _("At most %(limit)d days (%(count)d asked): narrow the dates.")
                    % {"limit": proposals.MAX_SPAN_DAYS, "count": days}
                }
            )
        if messages := services.target_segment_errors(kpi=attrs["kpi"], segment=attrs["segment"], team=None):
            raise serializers.ValidationError({"segment": messages})
        return attrs


class ProposedValueSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["minimum", "target", "stretch"])
    value = serializers.DecimalField(**NUMBER)
    reached = serializers.IntegerField(help_text="How many of the outcomes reach the value.")
    outcomes = serializers.IntegerField(help_text="How many outcomes the history gives.")
    probability_percent = serializers.DecimalField(
        max_digits=5, decimal_places=1, coerce_to_string=False, help_text="reached / outcomes, in percent."
    )


class PathMonthSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="First day of the month.")
    last_year = serializers.DecimalField(**NUMBER, allow_null=True, help_text="The same month a year earlier.")
    minimum = serializers.DecimalField(**NUMBER)
    target = serializers.DecimalField(**NUMBER)
    stretch = serializers.DecimalField(**NUMBER)


class TargetProposalSerializer(serializers.Serializer):
    kpi = serializers.CharField(source="kpi.code")
    team = serializers.CharField(source="team.slug")
    segment = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(source="last_day", help_text="Last day, included.")
    method = serializers.ChoiceField(
        choices=[proposals.SEASONAL, proposals.PAST_SPANS, proposals.NONE],
        help_text="seasonal: last year adjusted by the changes over a year; past_spans: the past spans as they "
        "were (less than two years of history); none: not enough history, nothing proposed.",
    )
    last_year = serializers.DecimalField(**NUMBER, allow_null=True, help_text="The same span a year earlier.")
    previous = serializers.DecimalField(**NUMBER, allow_null=True, help_text="The preceding span of the same length.")
    best = serializers.DecimalField(**NUMBER, allow_null=True, help_text="The best over a past span of this length.")
    proposals = ProposedValueSerializer(many=True, source="values")
    path = PathMonthSerializer(many=True, help_text="Each proposal month by month.")
    words = serializers.CharField(help_text="How the values were read from the history, in words.")


class TargetProposalView(GenericAPIView):
    """Minimum / target / stretch for a KPI over a span, proposed from the team's own history, with the
    probability of reaching each (the share of past outcomes that do) and the implied monthly path."""

    serializer_class = TargetProposalSerializer

    @extend_schema(parameters=[TargetProposalQuery], responses={200: TargetProposalSerializer})
    def get(self, request):
        query = TargetProposalQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        team = request_team(request, params["team"])
        proposal = proposals.target_proposal(
            kpi=params["kpi"],
            team=team,
            segment=params["segment"],
            start=params["start"],
            end=params["end"] + timedelta(days=1),
            today=selectors.today_local(),
        )
        return Response(TargetProposalSerializer(proposal).data)
