"""CRM activity: one typed fact table per kind of record (DESIGN.md §3).

Every record belongs to a team and carries the CRM's `external_id`, unique per team
and kind: ingestion upserts on that pair. Timestamps are aware and stored in UTC;
per-day statistics use a plain date. The database enforces the invariants (score
ranges, deal status vs closing date, non-negative counts) so no path can bypass them.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team

MONEY = {"max_digits": 14, "decimal_places": 2}


class ActivityRecord(models.Model):
    """Fields shared by every CRM record."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(_("external id"), max_length=120)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    ingested_at = models.DateTimeField(_("first received"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True, db_index=True)

    # The URL name of the kind (`/api/v1/activity/<kind>/`); set on each subclass.
    record_kind: str = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.external_id}"


def unique_external_id(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["team", "external_id"], name=f"{name}_team_external_id_unique")


def team_date_index(name: str, field: str) -> models.Index:
    return models.Index(fields=["team", field], name=f"{name}_team_{field}"[:30])


def non_negative(name: str, *fields: str) -> list[models.CheckConstraint]:
    return [models.CheckConstraint(condition=Q(**{f"{f}__gte": 0}), name=f"{name}_{f}_gte_0") for f in fields]


class Customer(ActivityRecord):
    """A customer account: active over [acquired_at, churned_at)."""

    record_kind = "customers"
    name = models.CharField(_("name"), max_length=200, blank=True)
    segment = models.CharField(_("segment"), max_length=60, blank=True)
    acquisition_channel = models.CharField(_("acquisition channel"), max_length=60, blank=True)
    acquired_at = models.DateTimeField(_("acquired at"))
    churned_at = models.DateTimeField(_("churned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            unique_external_id("customer"),
            models.CheckConstraint(
                condition=Q(churned_at__isnull=True) | Q(churned_at__gte=F("acquired_at")),
                name="customer_churned_after_acquired",
            ),
        ]
        indexes = [team_date_index("customer", "acquired_at"), team_date_index("customer", "churned_at")]


class Lead(ActivityRecord):
    """A prospect, from creation to qualification and conversion into a customer."""

    record_kind = "leads"
    channel = models.CharField(_("channel"), max_length=60, blank=True, help_text=_("source or channel"))
    owner = models.CharField(_("owner"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    qualified_at = models.DateTimeField(_("qualified at"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            unique_external_id("lead"),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=F("created_at")),
                name="lead_response_after_creation",
            ),
        ]
        indexes = [team_date_index("lead", "created_at")]


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Deal(ActivityRecord):
    """A sales opportunity; `closed_at` is set exactly when it is won or lost."""

    record_kind = "deals"
    owner = models.CharField(_("owner"), max_length=120, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    stage = models.CharField(_("stage"), max_length=60, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    probability = models.DecimalField(_("probability (%)"), max_digits=5, decimal_places=2, default=0)
    created_at = models.DateTimeField(_("created at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [
            unique_external_id("deal"),
            models.CheckConstraint(condition=Q(status__in=DealStatus.values), name="deal_status_valid"),
            models.CheckConstraint(
                condition=(
                    Q(status=DealStatus.OPEN, closed_at__isnull=True)
                    | Q(status__in=[DealStatus.WON, DealStatus.LOST], closed_at__isnull=False)
                ),
                name="deal_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("created_at")),
                name="deal_closed_after_created",
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="deal_probability_0_100"
            ),
            *non_negative("deal", "amount"),
        ]
        indexes = [team_date_index("deal", "created_at"), team_date_index("deal", "closed_at")]


class OrderStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    ABANDONED = "abandoned", _("Abandoned")
    RETURNED = "returned", _("Returned")


class Order(ActivityRecord):
    """A purchase (or an abandoned cart, or a returned order)."""

    record_kind = "orders"
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    ordered_at = models.DateTimeField(_("ordered at"))
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(_("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.COMPLETED)
    is_upsell = models.BooleanField(_("upsell"), default=False)
    is_cross_sell = models.BooleanField(_("cross-sell"), default=False)
    channel = models.CharField(_("channel"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            unique_external_id("order"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            *non_negative("order", "amount"),
        ]
        indexes = [team_date_index("order", "ordered_at")]


class Subscription(ActivityRecord):
    """A recurring contract: active over [started_at, cancelled_at)."""

    record_kind = "subscriptions"
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    started_at = models.DateTimeField(_("started at"))
    renewal_due_at = models.DateTimeField(_("renewal due at"), null=True, blank=True)
    renewed_at = models.DateTimeField(_("renewed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    recurring_amount = models.DecimalField(_("recurring amount"), **MONEY)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            unique_external_id("subscription"),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | Q(cancelled_at__gte=F("started_at")),
                name="subscription_cancelled_after_start",
            ),
            *non_negative("subscription", "recurring_amount"),
        ]
        indexes = [team_date_index("subscription", "started_at"), team_date_index("subscription", "renewal_due_at")]


class TicketKind(models.TextChoices):
    QUESTION = "question", _("Question")
    COMPLAINT = "complaint", _("Complaint")
    INCIDENT = "incident", _("Incident")
    REQUEST = "request", _("Request")
    OTHER = "other", _("Other")


class Ticket(ActivityRecord):
    """A customer-service request."""

    record_kind = "tickets"
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    channel = models.CharField(_("channel"), max_length=60, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=TicketKind.choices, default=TicketKind.QUESTION)
    created_at = models.DateTimeField(_("created at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    contact_count = models.PositiveIntegerField(_("contacts"), default=0)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            unique_external_id("ticket"),
            models.CheckConstraint(condition=Q(kind__in=TicketKind.values), name="ticket_kind_valid"),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=F("created_at")),
                name="ticket_response_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("created_at")),
                name="ticket_resolved_after_creation",
            ),
        ]
        indexes = [team_date_index("ticket", "created_at"), team_date_index("ticket", "resolved_at")]


class SurveyKind(models.TextChoices):
    NPS = "nps", "NPS"
    CSAT = "csat", "CSAT"
    CES = "ces", "CES"


# Scale of each survey: NPS 0–10, CSAT 1–5, CES 1–7 (Gartner CES 2.0, 7 = easy).
SURVEY_SCALES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5), SurveyKind.CES: (1, 7)}


class SurveyResponse(ActivityRecord):
    """One answer to an NPS, CSAT or CES survey."""

    record_kind = "survey-responses"
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    survey = models.CharField(_("survey"), max_length=4, choices=SurveyKind.choices)
    score = models.SmallIntegerField(_("score"))
    responded_at = models.DateTimeField(_("responded at"))
    touchpoint = models.CharField(_("touchpoint"), max_length=60, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        constraints = [
            unique_external_id("surveyresponse"),
            models.CheckConstraint(
                condition=(
                    Q(survey=SurveyKind.NPS, score__gte=0, score__lte=10)
                    | Q(survey=SurveyKind.CSAT, score__gte=1, score__lte=5)
                    | Q(survey=SurveyKind.CES, score__gte=1, score__lte=7)
                ),
                name="surveyresponse_score_in_scale",
            ),
        ]
        indexes = [models.Index(fields=["team", "survey", "responded_at"], name="survey_team_kind_time")]


class Meeting(ActivityRecord):
    """A sales meeting, held or not."""

    record_kind = "meetings"
    owner = models.CharField(_("owner"), max_length=120, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="meetings")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="meetings")
    scheduled_at = models.DateTimeField(_("scheduled at"))
    held = models.BooleanField(_("held"), default=False)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        constraints = [unique_external_id("meeting")]
        indexes = [team_date_index("meeting", "scheduled_at")]


class Campaign(ActivityRecord):
    """A marketing campaign; its daily figures are CampaignStat rows."""

    record_kind = "campaigns"
    name = models.CharField(_("name"), max_length=200, blank=True)
    channel = models.CharField(_("channel"), max_length=60, blank=True)
    budget = models.DecimalField(_("budget"), null=True, blank=True, **MONEY)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [unique_external_id("campaign")]


class CampaignStat(ActivityRecord):
    """One day of a campaign's e-mail and conversion figures."""

    record_kind = "campaign-stats"
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stats")
    date = models.DateField(_("date"))
    sent = models.PositiveIntegerField(_("sent"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    bounced = models.PositiveIntegerField(_("bounced"), default=0)
    opened = models.PositiveIntegerField(_("opened"), default=0)
    clicked = models.PositiveIntegerField(_("clicked"), default=0)
    unsubscribed = models.PositiveIntegerField(_("unsubscribed"), default=0)
    conversions = models.PositiveIntegerField(_("conversions"), default=0)
    revenue = models.DecimalField(_("revenue"), default=0, **MONEY)

    class Meta:
        verbose_name = _("campaign statistic")
        verbose_name_plural = _("campaign statistics")
        constraints = [
            unique_external_id("campaignstat"),
            models.UniqueConstraint(fields=["campaign", "date"], name="campaignstat_campaign_date_unique"),
            models.CheckConstraint(condition=Q(delivered__lte=F("sent")), name="campaignstat_delivered_le_sent"),
            *non_negative("campaignstat", "revenue"),
        ]
        indexes = [team_date_index("campaignstat", "date")]


class SpendCategory(models.TextChoices):
    ACQUISITION = "acquisition", _("Acquisition")
    RETENTION = "retention", _("Retention")
    OTHER = "other", _("Other")


class Spend(ActivityRecord):
    """Money spent on a day, by category (acquisition, retention, other)."""

    record_kind = "spend"
    date = models.DateField(_("date"))
    category = models.CharField(_("category"), max_length=12, choices=SpendCategory.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="spend")
    channel = models.CharField(_("channel"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("spend")
        verbose_name_plural = _("spend")
        constraints = [
            unique_external_id("spend"),
            models.CheckConstraint(condition=Q(category__in=SpendCategory.values), name="spend_category_valid"),
            *non_negative("spend", "amount"),
        ]
        indexes = [team_date_index("spend", "date")]


class WebTrafficStat(ActivityRecord):
    """One day of website traffic (optionally per source)."""

    record_kind = "web-traffic"
    date = models.DateField(_("date"))
    source = models.CharField(_("source"), max_length=60, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=0)
    bounces = models.PositiveIntegerField(_("bounces"), default=0)
    pageviews = models.PositiveIntegerField(_("page views"), default=0)
    total_time_s = models.PositiveBigIntegerField(_("total time (s)"), default=0)
    conversions = models.PositiveIntegerField(_("conversions"), default=0)

    class Meta:
        verbose_name = _("web traffic statistic")
        verbose_name_plural = _("web traffic statistics")
        constraints = [
            unique_external_id("webtrafficstat"),
            models.CheckConstraint(condition=Q(bounces__lte=F("visits")), name="webtraffic_bounces_le_visits"),
        ]
        indexes = [team_date_index("webtrafficstat", "date")]


class Interaction(ActivityRecord):
    """A customer's engagement event: e-mail open, click, visit, social, loyalty…"""

    record_kind = "interactions"
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=30)
    occurred_at = models.DateTimeField(_("occurred at"))
    channel = models.CharField(_("channel"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [unique_external_id("interaction")]
        indexes = [team_date_index("interaction", "occurred_at")]


# The registry of record kinds, by their URL name (DESIGN.md §9). Ingestion, the API,
# CSV import and the KPI engine look kinds up here; nothing branches on kind names.
ACTIVITY_MODELS: dict[str, type[ActivityRecord]] = {
    model.record_kind: model
    for model in (
        Customer,
        Lead,
        Deal,
        Order,
        Subscription,
        Ticket,
        SurveyResponse,
        Meeting,
        Campaign,
        CampaignStat,
        Spend,
        WebTrafficStat,
        Interaction,
    )
}
