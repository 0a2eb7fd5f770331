"""API of alert rules and alerts (DESIGN.md §9): rules' CRUD, the alerts list and detail, acknowledge, resolve."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api.access import request_team, request_team_ids
from accounts.models import User
from accounts.roles import Role
from kpiplatform.api_schema import ErrorDetailSerializer
from metrics.kpis.periods import Granularity
from objectives.alerts import rules as alert_rules
from objectives.alerts import selectors as alert_selectors
from objectives.alerts import services as alert_services
from objectives.models import AlertCondition, AlertSeverity, AlertState, CompareBasis

NUMBER = {"max_digits": 20, "decimal_places": 6, "coerce_to_string": False}
STATE_FILTERS = [alert_selectors.STATE_OPEN, alert_selectors.STATE_ALL, *AlertState.values]


class AlertRuleInSerializer(serializers.Serializer):
    team = serializers.SlugField(help_text="Slug of the rule's team.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    condition = serializers.ChoiceField(choices=AlertCondition.choices)
    kpi = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="KPI code (KPI rules).")
    segment = serializers.CharField(required=False, allow_blank=True, help_text="e.g. channel=email")
    granularity = serializers.ChoiceField(choices=Granularity.choices, required=False)
    target = serializers.IntegerField(
        required=False, allow_null=True, help_text="Objective target id (off_track, at_risk)."
    )
    budget = serializers.IntegerField(required=False, allow_null=True, help_text="Budget id (budget_over).")
    compare_with = serializers.ChoiceField(
        choices=CompareBasis.choices,
        required=False,
        help_text="Change conditions: previous period (default) or the same period last year.",
    )
    threshold = serializers.DecimalField(
        required=False,
        allow_null=True,
        help_text="A KPI value; a percentage for a change or for spend forecast beyond a budget; "
        "a number of days for no_data; for anomaly, empty (the band's width then comes from the bench, "
        "metrics.kpis.anomalies.K) or the width in robust standard deviations.",
        **NUMBER,
    )
    recovery_threshold = serializers.DecimalField(required=False, allow_null=True, **NUMBER)
    change_floor = serializers.DecimalField(required=False, allow_null=True, **NUMBER)
    min_sample = serializers.IntegerField(required=False, allow_null=True)
    sample_measure = serializers.CharField(required=False, allow_blank=True)
    pending_count = serializers.IntegerField(required=False)
    severity = serializers.ChoiceField(choices=AlertSeverity.choices, required=False)
    recipients = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Usernames; empty: the team's managers."
    )
    notify_in_app = serializers.BooleanField(required=False)
    notify_email = serializers.BooleanField(required=False)
    notify_webhook = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class AlertRuleListQuery(serializers.Serializer):
    """Query parameters of the alert rules list."""

    team = serializers.SlugField(required=False, allow_blank=True, help_text="Team slug")


class AlertListQuery(serializers.Serializer):
    """Query parameters of the alerts list; each wrong one gets its own message."""

    team = serializers.SlugField(required=False, allow_blank=True, help_text="Team slug")
    state = serializers.CharField(required=False, allow_blank=True, help_text="A state, open (not resolved) or all")
    severity = serializers.CharField(required=False, allow_blank=True)

    def validate_state(self, value: str) -> str:
        if value and value not in STATE_FILTERS:
            raise serializers.ValidationError(
                _("Choose a state among: %(values)s.") % {"values": ", ".join(STATE_FILTERS)}
            )
        return value

    def validate_severity(self, value: str) -> str:
        if value and value not in AlertSeverity.values:
            raise serializers.ValidationError(
                _("Choose a severity among: %(values)s.") % {"values": ", ".join(AlertSeverity.values)}
            )
        return value


class AlertRulePatchSerializer(AlertRuleInSerializer):
    team = None

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class AlertRuleOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.CharField(source="team.slug")
    name = serializers.CharField()
    condition = serializers.ChoiceField(choices=AlertCondition.choices)
    kpi = serializers.CharField(source="kpi.code", allow_null=True, default=None)
    segment = serializers.CharField()
    granularity = serializers.ChoiceField(choices=Granularity.choices)
    target = serializers.IntegerField(source="target_id", allow_null=True)
    budget = serializers.IntegerField(source="budget_id", allow_null=True)
    compare_with = serializers.ChoiceField(choices=CompareBasis.choices)
    threshold = serializers.DecimalField(allow_null=True, **NUMBER)
    recovery_threshold = serializers.DecimalField(allow_null=True, **NUMBER)
    change_floor = serializers.DecimalField(allow_null=True, **NUMBER)
    min_sample = serializers.IntegerField(allow_null=True)
    sample_measure = serializers.CharField()
    pending_count = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=AlertSeverity.choices)
    recipients = serializers.SerializerMethodField()
    notify_in_app = serializers.BooleanField()
    notify_email = serializers.BooleanField()
    notify_webhook = serializers.BooleanField()
    snoozed_until = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_recipients(self, rule) -> list[str]:
        return sorted(user.username for user in rule.recipients.all())


class AlertEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    value = serializers.DecimalField(allow_null=True, **NUMBER)
    threshold = serializers.DecimalField(allow_null=True, **NUMBER)
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    comment = serializers.CharField()
    notified = serializers.JSONField()
    # Anomaly rules: the expected band judged against ({"expected", "lower", "upper", "method", "distance",
    # "side"}), as the webhook carries it; null otherwise.
    band = serializers.JSONField(allow_null=True)


class AlertOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.IntegerField(source="rule_id")
    rule_name = serializers.CharField(source="rule.name")
    team = serializers.CharField(source="team.slug")
    kpi = serializers.SerializerMethodField()
    target = serializers.IntegerField(source="rule.target_id", allow_null=True)
    budget = serializers.IntegerField(source="rule.budget_id", allow_null=True)
    condition = serializers.ChoiceField(source="rule.condition", choices=AlertCondition.choices)
    segment = serializers.CharField()
    period_start = serializers.DateField()
    value = serializers.DecimalField(allow_null=True, **NUMBER)
    threshold = serializers.DecimalField(allow_null=True, **NUMBER)
    state = serializers.ChoiceField(choices=AlertState.choices)
    severity = serializers.ChoiceField(choices=AlertSeverity.choices)
    opened_at = serializers.DateTimeField()
    fired_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", allow_null=True, default=None)
    resolved_at = serializers.DateTimeField(allow_null=True)

    def get_kpi(self, alert) -> str | None:
        """The watched KPI's code: the rule's, or its objective target's."""
        rule = alert.rule
        if rule.kpi_id:
            return rule.kpi.code
        return rule.target.kpi.code if rule.target_id else None


class AlertDetailOutSerializer(AlertOutSerializer):
    history = AlertEventSerializer(many=True, source="events.all")


class AcknowledgeInSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ResolveInSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


def _service_errors(error: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(error, "error_dict"):
        return serializers.ValidationError(error.message_dict)
    return serializers.ValidationError({"non_field_errors": error.messages})


def _rule_data(validated: dict, *, team) -> dict:
    """Serializer output → the service's data dict (team dropped, kpi code kept, recipients as users).

    Recipients are looked up among those who may receive the team's alerts: a user of another team reads exactly
    like a username that does not exist, so the API never tells which usernames exist elsewhere."""
    data = dict(validated)
    data.pop("team", None)
    if data.get("recipients") is not None:
        names = data["recipients"]
        users = account_selectors.team_members_by_username(team=team, usernames=names)
        unknown = [name for name in names if name not in users]
        if unknown:
            message = _("Unknown users in this team: %(names)s.") % {"names": ", ".join(unknown)}
            raise serializers.ValidationError({"recipients": [message]})
        data["recipients"] = [users[name] for name in names]
    return data


def _rule_or_404(request, pk: int, *, write: bool = False):
    rule = alert_selectors.alert_rule_for(team_ids=request_team_ids(request), pk=pk)
    if rule is None:
        raise Http404(_("No such alert rule visible to you."))
    if write:
        allowed = request_team_ids(request, write=True)
        if allowed is not None and rule.team_id not in allowed:
            raise PermissionDenied(_("Only the team's managers may change its alert rules."))
    return rule


class AlertRuleListCreateView(GenericAPIView):
    """List the alert rules of the caller's teams, or create one (managers of its team, write keys)."""

    serializer_class = AlertRuleOutSerializer

    def get_queryset(self):
        query = AlertRuleListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        team_slug = query.validated_data.get("team")
        team = request_team(self.request, team_slug) if team_slug else None
        return alert_selectors.alert_rules_of(team_ids=request_team_ids(self.request), team=team)

    @extend_schema(parameters=[AlertRuleListQuery], responses=AlertRuleOutSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AlertRuleOutSerializer(page, many=True).data)

    @extend_schema(request=AlertRuleInSerializer, responses={201: AlertRuleOutSerializer})
    def post(self, request):
        # Team access first: a caller who may not write to the team learns nothing about its data.
        slug = request.data.get("team") if hasattr(request.data, "get") else None
        if isinstance(slug, str) and slug:
            request_team(request, slug, write=True)
        serializer = AlertRuleInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = request_team(request, serializer.validated_data["team"], write=True)
        try:
            rule = alert_rules.alert_rule_create(
                user=request.user, team=team, data=_rule_data(serializer.validated_data, team=team)
            )
        except DjangoValidationError as error:
            raise _service_errors(error) from error
        rule = alert_selectors.alert_rule_for(team_ids=None, pk=rule.pk)
        return Response(AlertRuleOutSerializer(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailView(GenericAPIView):
    """Read, change or delete one alert rule (changes: managers of its team, write keys)."""

    serializer_class = AlertRuleOutSerializer

    def get(self, request, pk: int):
        return Response(AlertRuleOutSerializer(_rule_or_404(request, pk)).data)

    @extend_schema(request=AlertRulePatchSerializer, responses=AlertRuleOutSerializer)
    def patch(self, request, pk: int):
        rule = _rule_or_404(request, pk, write=True)
        serializer = AlertRulePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            alert_rules.alert_rule_update(rule=rule, data=_rule_data(serializer.validated_data, team=rule.team))
        except DjangoValidationError as error:
            raise _service_errors(error) from error
        return Response(AlertRuleOutSerializer(alert_selectors.alert_rule_for(team_ids=None, pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        alert_rules.alert_rule_delete(rule=_rule_or_404(request, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListView(GenericAPIView):
    """Alerts of the caller's teams, newest first, filtered by team, state (default: all) and severity."""

    serializer_class = AlertOutSerializer

    def get_queryset(self):
        query = AlertListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        team = request_team(self.request, params["team"]) if params.get("team") else None
        return alert_selectors.alerts_for(
            team_ids=request_team_ids(self.request),
            state=params.get("state") or None,
            team=team,
            severity=params.get("severity") or None,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("team", str, description="Team slug"),
            OpenApiParameter("state", str, enum=STATE_FILTERS, description="A state, open (not resolved) or all"),
            OpenApiParameter("severity", str, enum=AlertSeverity.values),
        ],
        responses=AlertOutSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AlertOutSerializer(page, many=True).data)


def _alert_or_404(request, pk: int, *, act: bool = False):
    alert = alert_selectors.alerts_with_events(team_ids=request_team_ids(request)).filter(pk=pk).first()
    if alert is None:
        raise Http404(_("No such alert visible to you."))
    if act:
        allowed = request_team_ids(request, write=True, minimum_role=Role.MEMBER)
        if allowed is not None and alert.team_id not in allowed:
            raise PermissionDenied(_("Viewers may not acknowledge or resolve alerts."))
    return alert


def _transition(request, pk: int, service_name: str, **kwargs):
    """Run an alert_services transition; a refused one (e.g. already resolved) answers 409 with its message."""
    alert = _alert_or_404(request, pk, act=True)
    actor = request.user if isinstance(request.user, User) else None
    try:
        getattr(alert_services, service_name)(alert=alert, user=actor, **kwargs)
    except alert_services.AlertTransitionError as error:
        return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
    return Response(AlertDetailOutSerializer(_alert_or_404(request, pk)).data)


class AlertDetailView(GenericAPIView):
    """One alert with its history."""

    serializer_class = AlertDetailOutSerializer

    def get(self, request, pk: int):
        return Response(AlertDetailOutSerializer(_alert_or_404(request, pk)).data)


class AlertAcknowledgeView(GenericAPIView):
    """Acknowledge an open alert, with an optional comment (members and up, write keys); 409 if resolved."""

    serializer_class = AcknowledgeInSerializer

    @extend_schema(
        request=AcknowledgeInSerializer, responses={200: AlertDetailOutSerializer, 409: ErrorDetailSerializer}
    )
    def post(self, request, pk: int):
        serializer = AcknowledgeInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _transition(request, pk, "alert_acknowledge", comment=serializer.validated_data["comment"])


class AlertResolveView(GenericAPIView):
    """Resolve an open alert by hand, with an optional note (members and up, write keys); 409 if resolved."""

    serializer_class = ResolveInSerializer

    @extend_schema(request=ResolveInSerializer, responses={200: AlertDetailOutSerializer, 409: ErrorDetailSerializer})
    def post(self, request, pk: int):
        serializer = ResolveInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _transition(request, pk, "alert_resolve", note=serializer.validated_data["note"])


urlpatterns = [
    path("alert-rules/", AlertRuleListCreateView.as_view(), name="api-alert-rules"),
    path("alert-rules/<int:pk>/", AlertRuleDetailView.as_view(), name="api-alert-rule"),
    path("alerts/", AlertListView.as_view(), name="api-alerts"),
    path("alerts/<int:pk>/", AlertDetailView.as_view(), name="api-alert"),
    path("alerts/<int:pk>/acknowledge/", AlertAcknowledgeView.as_view(), name="api-alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", AlertResolveView.as_view(), name="api-alert-resolve"),
]
