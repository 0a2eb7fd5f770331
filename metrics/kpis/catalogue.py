"""The KPI catalogue the product ships (shared/KPI_CATALOGUE.md), as declarative data.

`manage.py load_kpi_catalogue` creates or updates every KPI below (see
metrics.kpis.services.kpi_catalogue_load). Each KPI is a formula over named measures; a
measure is one aggregate over one record source, bound to the period by an event date
(`event(...)`) or as a state of an active interval (`state(...)`). Adding a KPI here is a
data change plus a test with hand-computed numbers — never engine code.
"""

from __future__ import annotations

from typing import Any

COMPLETED = {"field": "status", "op": "exact", "value": "completed"}


def eq(field: str, value: Any) -> dict:
    return {"field": field, "op": "exact", "value": value}


def gte(field: str, value: Any) -> dict:
    return {"field": field, "op": "gte", "value": value}


def lte(field: str, value: Any) -> dict:
    return {"field": field, "op": "lte", "value": value}


def has(field: str) -> dict:
    return {"field": field, "op": "isnull", "value": False}


def event(name: str, source: str, aggregate: str, date_field: str, *, field: str = "", filters=(), **extra) -> dict:
    """A measure over records whose `date_field` falls in the period."""
    return {
        "name": name,
        "source": source,
        "aggregate": aggregate,
        "field": field,
        "filters": list(filters),
        "binding": "event",
        "date_field": date_field,
        **extra,
    }


def state(
    name: str, source: str, aggregate: str, mode: str, active_from: str, active_to: str = "", *, field="", filters=()
) -> dict:
    """A measure over records in a state (S, E, N, lost) of their active interval [active_from, active_to)."""
    return {
        "name": name,
        "source": source,
        "aggregate": aggregate,
        "field": field,
        "filters": list(filters),
        "binding": "state",
        "active_from": active_from,
        "active_to": active_to,
        "state": mode,
    }


def duration(name: str, source: str, aggregate: str, date_field: str, *, start: str, end: str, unit: str, filters=()):
    """A measure over the duration `end − start` of records whose `date_field` falls in the period, in `unit`."""
    return event(
        name, source, aggregate, date_field, field=end, duration_from=start, duration_unit=unit, filters=filters
    )


# Measures shared by several KPIs (identical measures are computed once by the engine).
REVENUE = event("revenue", "orders", "sum", "ordered_at", field="amount", filters=[COMPLETED])
ORDERS = event("orders", "orders", "count", "ordered_at", filters=[COMPLETED])
BUYERS = event("buying_customers", "orders", "count_distinct", "ordered_at", field="customer", filters=[COMPLETED])
NEW_CUSTOMERS = event("new_customers", "customers", "count", "acquired_at")
CUSTOMERS_START = state("customers_start", "customers", "count", "start", "acquired_at", "churned_at")
CUSTOMERS_LOST = state("lost", "customers", "count", "lost", "acquired_at", "churned_at")
LEADS = event("leads", "leads", "count", "created_at")
WON = event("won", "deals", "count", "closed_at", filters=[eq("status", "won")])
LOST_DEALS = event("lost", "deals", "count", "closed_at", filters=[eq("status", "lost")])
ACQUISITION_SPEND = event(
    "acquisition_spend", "spend", "sum", "date", field="amount", filters=[eq("category", "acquisition")]
)
SURVEY = {kind: eq("survey", kind) for kind in ("nps", "csat", "ces")}


def stat_sum(name: str, source: str, field: str | None = None) -> dict:
    return event(name, source, "sum", "date", field=field or name)


def kpi(
    code: str,
    category: str,
    names: tuple[str, str],
    descriptions: tuple[str, str],
    unit: str,
    direction: str,
    formula: str,
    measures: list[dict],
    *,
    segments: tuple[str, ...] = (),
    additive: bool = False,
    granularity: str = "month",
) -> dict:
    return {
        "code": code,
        "category": category,
        "name_fr": names[0],
        "name_en": names[1],
        "description_fr": descriptions[0],
        "description_en": descriptions[1],
        "unit": unit,
        "direction": direction,
        "formula": formula,
        "measures": measures,
        "segments": list(segments),
        "additive": additive,
        "default_granularity": granularity,
    }


SALES, CUSTOMERS, SUPPORT, MARKETING, ADOPTION = "sales", "customers", "support", "marketing", "adoption"
UP, DOWN, NEUTRAL = "higher", "lower", "neutral"
ORDER_SEGMENTS = ("channel", "customer_segment")

CATALOGUE: list[dict] = [
    # ------------------------------------------------------------------ Sales — Ventes
    kpi(
        "revenue",
        SALES,
        ("Chiffre d'affaires", "Revenue"),
        (
            "Somme des montants des commandes réalisées passées dans la période.",
            "Sum of the amounts of completed orders placed in the period.",
        ),
        "€",
        UP,
        "revenue",
        [REVENUE],
        segments=ORDER_SEGMENTS,
        additive=True,
    ),
    kpi(
        "orders",
        SALES,
        ("Nombre de commandes", "Orders"),
        ("Commandes réalisées passées dans la période.", "Completed orders placed in the period."),
        "n",
        UP,
        "orders",
        [ORDERS],
        segments=ORDER_SEGMENTS,
        additive=True,
    ),
    kpi(
        "average_purchase_value",
        SALES,
        ("Panier moyen", "Average purchase value"),
        ("Chiffre d'affaires divisé par le nombre de commandes.", "Revenue divided by the number of orders."),
        "€",
        UP,
        "revenue / orders",
        [REVENUE, ORDERS],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "buying_customers",
        SALES,
        ("Clients acheteurs", "Buying customers"),
        (
            "Clients distincts ayant passé une commande réalisée dans la période.",
            "Distinct customers with a completed order in the period.",
        ),
        "n",
        UP,
        "buying_customers",
        [BUYERS],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "revenue_per_customer",
        SALES,
        ("CA par client", "Revenue per customer"),
        ("Chiffre d'affaires divisé par le nombre de clients acheteurs.", "Revenue divided by buying customers."),
        "€",
        UP,
        "revenue / buying_customers",
        [REVENUE, BUYERS],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "sales_growth_rate",
        SALES,
        ("Taux de croissance des ventes", "Sales growth rate"),
        (
            "Évolution du chiffre d'affaires par rapport à la période précédente ; "
            "sans valeur quand le CA précédent est nul ou négatif.",
            "Change in revenue versus the preceding period; no value when the preceding revenue is not positive.",
        ),
        "%",
        UP,
        "100 * (revenue - prev(revenue)) / positive(prev(revenue))",
        [REVENUE],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "new_customers",
        SALES,
        ("Nouveaux clients", "New customers"),
        ("Clients acquis dans la période.", "Customers acquired in the period."),
        "n",
        UP,
        "new_customers",
        [NEW_CUSTOMERS],
        segments=("channel", "segment"),
        additive=True,
    ),
    kpi(
        "new_net_revenue",
        SALES,
        ("Nouveau CA net", "New net revenue"),
        (
            "Chiffre d'affaires des commandes de clients acquis dans la même période.",
            "Revenue of orders placed by customers acquired in the same period.",
        ),
        "€",
        UP,
        "new_net_revenue",
        [
            event(
                "new_net_revenue",
                "orders",
                "sum",
                "ordered_at",
                field="amount",
                filters=[COMPLETED, {"field": "customer__acquired_at", "op": "in_period"}],
            )
        ],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "repeat_purchase_rate",
        SALES,
        ("Taux de fidélité (achats répétés)", "Repeat purchase rate"),
        (
            "Part des clients acheteurs ayant passé au moins deux commandes dans la période.",
            "Share of buying customers with at least two completed orders in the period.",
        ),
        "%",
        UP,
        "100 * repeat_customers / buying_customers",
        [
            event(
                "repeat_customers",
                "orders",
                "count_distinct",
                "ordered_at",
                field="customer",
                filters=[COMPLETED],
                min_count=2,
            ),
            BUYERS,
        ],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "upsell_rate",
        SALES,
        ("Taux de vente incitative", "Upsell rate"),
        (
            "Part des commandes réalisées qui sont des ventes incitatives.",
            "Share of completed orders that are upsells.",
        ),
        "%",
        UP,
        "100 * upsell_orders / orders",
        [event("upsell_orders", "orders", "count", "ordered_at", filters=[COMPLETED, eq("is_upsell", True)]), ORDERS],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "cross_sell_rate",
        SALES,
        ("Taux de vente croisée", "Cross-sell rate"),
        (
            "Part des commandes réalisées qui sont des ventes croisées.",
            "Share of completed orders that are cross-sells.",
        ),
        "%",
        UP,
        "100 * cross_sell_orders / orders",
        [
            event("cross_sell_orders", "orders", "count", "ordered_at", filters=[COMPLETED, eq("is_cross_sell", True)]),
            ORDERS,
        ],
        segments=ORDER_SEGMENTS,
    ),
    kpi(
        "cart_abandonment_rate",
        SALES,
        ("Taux d'abandon de panier", "Cart abandonment rate"),
        (
            "Paniers abandonnés sur paniers abandonnés ou commandés.",
            "Abandoned carts over abandoned or completed ones.",
        ),
        "%",
        DOWN,
        "100 * abandoned / (abandoned + completed)",
        [
            event("abandoned", "orders", "count", "ordered_at", filters=[eq("status", "abandoned")]),
            event("completed", "orders", "count", "ordered_at", filters=[COMPLETED]),
        ],
        segments=("channel",),
    ),
    kpi(
        "return_rate",
        SALES,
        ("Taux de retour", "Return rate"),
        ("Commandes retournées sur commandes retournées ou réalisées.", "Returned orders over returned or completed."),
        "%",
        DOWN,
        "100 * returned / (returned + completed)",
        [
            event("returned", "orders", "count", "ordered_at", filters=[eq("status", "returned")]),
            event("completed", "orders", "count", "ordered_at", filters=[COMPLETED]),
        ],
        segments=("channel",),
    ),
    kpi(
        "leads",
        SALES,
        ("Prospects entrants", "New leads"),
        ("Prospects créés dans la période, par canal d'acquisition.", "Leads created in the period, by channel."),
        "n",
        UP,
        "leads",
        [LEADS],
        segments=("channel", "owner"),
        additive=True,
    ),
    kpi(
        "lead_conversion_rate",
        SALES,
        ("Taux de conversion des prospects", "Lead conversion rate"),
        (
            "Part des prospects créés dans la période convertis en clients (à date).",
            "Share of the leads created in the period converted into customers (to date).",
        ),
        "%",
        UP,
        "100 * converted / leads",
        [event("converted", "leads", "count", "created_at", filters=[has("converted_at")]), LEADS],
        segments=("channel", "owner"),
    ),
    kpi(
        "lead_qualification_rate",
        SALES,
        ("Taux de qualification des prospects", "Lead qualification rate"),
        ("Part des prospects créés dans la période qualifiés.", "Share of the leads created in the period qualified."),
        "%",
        UP,
        "100 * qualified / leads",
        [event("qualified", "leads", "count", "created_at", filters=[has("qualified_at")]), LEADS],
        segments=("channel", "owner"),
    ),
    kpi(
        "lead_response_time",
        SALES,
        ("Temps de réponse aux prospects (médiane)", "Lead response time (median)"),
        (
            "Médiane du délai entre la création d'un prospect et sa première réponse, en heures.",
            "Median time from a lead's creation to its first response, in hours.",
        ),
        "h",
        DOWN,
        "response_time",
        [
            duration(
                "response_time",
                "leads",
                "median",
                "created_at",
                start="created_at",
                end="first_response_at",
                unit="h",
                filters=[has("first_response_at")],
            )
        ],
        segments=("channel", "owner"),
    ),
    kpi(
        "lead_response_time_avg",
        SALES,
        ("Temps de réponse aux prospects (moyenne)", "Lead response time (mean)"),
        (
            "Moyenne du délai entre la création d'un prospect et sa première réponse, en heures.",
            "Mean time from a lead's creation to its first response, in hours.",
        ),
        "h",
        DOWN,
        "response_time",
        [
            duration(
                "response_time",
                "leads",
                "avg",
                "created_at",
                start="created_at",
                end="first_response_at",
                unit="h",
                filters=[has("first_response_at")],
            )
        ],
        segments=("channel", "owner"),
    ),
    kpi(
        "meetings_held",
        SALES,
        ("Rendez-vous effectués", "Meetings held"),
        ("Rendez-vous commerciaux tenus dans la période.", "Sales meetings held in the period."),
        "n",
        UP,
        "meetings",
        [event("meetings", "meetings", "count", "scheduled_at", filters=[eq("held", True)])],
        segments=("owner",),
        additive=True,
    ),
    kpi(
        "new_deals",
        SALES,
        ("Nouvelles opportunités", "New deals"),
        ("Opportunités créées dans la période.", "Deals created in the period."),
        "n",
        UP,
        "deals",
        [event("deals", "deals", "count", "created_at")],
        segments=("owner", "stage"),
        additive=True,
    ),
    kpi(
        "win_rate",
        SALES,
        ("Taux de réussite", "Win rate"),
        (
            "Affaires gagnées sur affaires gagnées ou perdues, clôturées dans la période.",
            "Deals won over deals won or lost, closed in the period.",
        ),
        "%",
        UP,
        "100 * won / (won + lost)",
        [WON, LOST_DEALS],
        segments=("owner",),
    ),
    kpi(
        "average_deal_value",
        SALES,
        ("Valeur moyenne des affaires gagnées", "Average won deal value"),
        ("Montant moyen des affaires gagnées dans la période.", "Mean amount of the deals won in the period."),
        "€",
        UP,
        "won_value",
        [event("won_value", "deals", "avg", "closed_at", field="amount", filters=[eq("status", "won")])],
        segments=("owner",),
    ),
    kpi(
        "pipeline_value",
        SALES,
        ("Valeur du pipeline", "Pipeline value"),
        ("Montant des affaires ouvertes en fin de période.", "Amount of the deals open at the end of the period."),
        "€",
        NEUTRAL,
        "pipeline",
        [state("pipeline", "deals", "sum", "end", "created_at", "closed_at", field="amount")],
        segments=("owner", "stage"),
    ),
    kpi(
        "weighted_pipeline_value",
        SALES,
        ("Pipeline pondéré", "Weighted pipeline"),
        (
            "Montant × probabilité des affaires ouvertes en fin de période.",
            "Amount × probability of the deals open at the end of the period.",
        ),
        "€",
        NEUTRAL,
        "weighted_pipeline / 100",
        [
            {
                **state("weighted_pipeline", "deals", "sum", "end", "created_at", "closed_at", field="amount"),
                "multiply_by": "probability",
            }
        ],
        segments=("owner", "stage"),
    ),
    kpi(
        "sales_cycle_length",
        SALES,
        ("Durée du cycle de vente", "Sales cycle length"),
        (
            "Durée moyenne, en jours, de la création à la signature des affaires gagnées dans la période.",
            "Mean time in days from creation to close of the deals won in the period.",
        ),
        "d",
        DOWN,
        "cycle_days",
        [
            duration(
                "cycle_days",
                "deals",
                "avg",
                "closed_at",
                start="created_at",
                end="closed_at",
                unit="d",
                filters=[eq("status", "won")],
            )
        ],
        segments=("owner",),
    ),
    kpi(
        "sales_velocity",
        SALES,
        ("Vitesse des transactions", "Sales velocity"),
        (
            "Affaires ouvertes en début de période × valeur moyenne gagnée × taux de réussite ÷ durée du cycle.",
            "Deals open at the start × average won value × win rate ÷ sales cycle length.",
        ),
        "€/d",
        UP,
        "open_deals * won_value * (won / (won + lost)) / cycle_days",
        [
            state("open_deals", "deals", "count", "start", "created_at", "closed_at"),
            event("won_value", "deals", "avg", "closed_at", field="amount", filters=[eq("status", "won")]),
            WON,
            LOST_DEALS,
            duration(
                "cycle_days",
                "deals",
                "avg",
                "closed_at",
                start="created_at",
                end="closed_at",
                unit="d",
                filters=[eq("status", "won")],
            ),
        ],
        segments=("owner",),
    ),
    # ------------------------------------------------------------------ Customers — Satisfaction et fidélisation
    kpi(
        "nps",
        CUSTOMERS,
        ("Net Promoter Score", "Net Promoter Score"),
        (
            "Promoteurs (9–10) moins détracteurs (0–6), en points sur l'ensemble des réponses NPS.",
            "Promoters (9–10) minus detractors (0–6), in points over all NPS responses.",
        ),
        "pts",
        UP,
        "100 * (promoters - detractors) / responses",
        [
            event("promoters", "survey-responses", "count", "responded_at", filters=[SURVEY["nps"], gte("score", 9)]),
            event("detractors", "survey-responses", "count", "responded_at", filters=[SURVEY["nps"], lte("score", 6)]),
            event("responses", "survey-responses", "count", "responded_at", filters=[SURVEY["nps"]]),
        ],
        segments=("touchpoint",),
    ),
    kpi(
        "csat",
        CUSTOMERS,
        ("Satisfaction client (CSAT)", "Customer satisfaction (CSAT)"),
        ("Part des réponses CSAT notées 4 ou 5 sur 5.", "Share of CSAT responses scoring 4 or 5 out of 5."),
        "%",
        UP,
        "100 * satisfied / responses",
        [
            event("satisfied", "survey-responses", "count", "responded_at", filters=[SURVEY["csat"], gte("score", 4)]),
            event("responses", "survey-responses", "count", "responded_at", filters=[SURVEY["csat"]]),
        ],
        segments=("touchpoint",),
    ),
    kpi(
        "ces",
        CUSTOMERS,
        ("Score d'effort client (CES)", "Customer effort score"),
        (
            "Note moyenne CES sur 7 (7 = « l'entreprise m'a facilité les choses », Gartner CES 2.0).",
            "Mean CES score out of 7 (7 = 'the company made it easy', Gartner CES 2.0).",
        ),
        "pts",
        UP,
        "mean_score",
        [event("mean_score", "survey-responses", "avg", "responded_at", field="score", filters=[SURVEY["ces"]])],
        segments=("touchpoint",),
    ),
    kpi(
        "active_customers",
        CUSTOMERS,
        ("Clients actifs", "Active customers"),
        ("Clients actifs en fin de période.", "Customers active at the end of the period."),
        "n",
        UP,
        "customers_end",
        [state("customers_end", "customers", "count", "end", "acquired_at", "churned_at")],
        segments=("channel", "segment"),
    ),
    kpi(
        "churn_rate",
        CUSTOMERS,
        ("Taux d'attrition (churn)", "Churn rate"),
        (
            "Clients actifs en début de période perdus pendant la période, sur les clients actifs en début de période.",
            "Customers active at the start and lost during the period, over customers active at the start.",
        ),
        "%",
        DOWN,
        "100 * lost / customers_start",
        [CUSTOMERS_LOST, CUSTOMERS_START],
        segments=("channel", "segment"),
    ),
    kpi(
        "retention_rate",
        CUSTOMERS,
        ("Taux de rétention", "Retention rate"),
        (
            "(Clients actifs en fin de période − nouveaux) sur les clients actifs en début de période.",
            "(Customers active at the end − new ones) over customers active at the start.",
        ),
        "%",
        UP,
        "100 * (customers_end - new_customers) / customers_start",
        [
            state("customers_end", "customers", "count", "end", "acquired_at", "churned_at"),
            state("new_customers", "customers", "count", "new", "acquired_at", "churned_at"),
            CUSTOMERS_START,
        ],
        segments=("channel", "segment"),
    ),
    kpi(
        "renewal_rate",
        CUSTOMERS,
        ("Taux de renouvellement", "Renewal rate"),
        (
            "Abonnements renouvelés sur abonnements arrivant à échéance dans la période, "
            "hors ceux résiliés avant l'échéance.",
            "Subscriptions renewed over those due for renewal in the period, "
            "excluding those cancelled before the due date.",
        ),
        "%",
        UP,
        "100 * renewed / due",
        [
            event(
                "renewed",
                "subscriptions",
                "count",
                "renewal_due_at",
                filters=[
                    has("renewed_at"),
                    {
                        "any": [
                            {"field": "cancelled_at", "op": "isnull", "value": True},
                            {"field": "cancelled_at", "op": "gte", "value": {"field": "renewal_due_at"}},
                        ]
                    },
                ],
            ),
            event(
                "due",
                "subscriptions",
                "count",
                "renewal_due_at",
                filters=[
                    {
                        "any": [
                            {"field": "cancelled_at", "op": "isnull", "value": True},
                            {"field": "cancelled_at", "op": "gte", "value": {"field": "renewal_due_at"}},
                        ]
                    }
                ],
            ),
        ],
        segments=("customer_segment",),
    ),
    kpi(
        "revenue_churn_rate",
        CUSTOMERS,
        ("Attrition du revenu récurrent", "Gross MRR churn"),
        (
            "Revenu récurrent des abonnements résiliés dans la période, sur celui des abonnements actifs en début "
            "de période.",
            "Recurring revenue of the subscriptions lost in the period over that of those active at the start.",
        ),
        "%",
        DOWN,
        "100 * lost_mrr / mrr_start",
        [
            state("lost_mrr", "subscriptions", "sum", "lost", "started_at", "cancelled_at", field="recurring_amount"),
            state("mrr_start", "subscriptions", "sum", "start", "started_at", "cancelled_at", field="recurring_amount"),
        ],
        segments=("customer_segment",),
    ),
    kpi(
        "customer_lifetime_value",
        CUSTOMERS,
        ("Valeur vie client (CLV)", "Customer lifetime value"),
        ("CA par client divisé par le taux d'attrition.", "Revenue per customer divided by the churn rate."),
        "€",
        UP,
        "(revenue / buying_customers) / (lost / customers_start)",
        [REVENUE, BUYERS, CUSTOMERS_LOST, CUSTOMERS_START],
    ),
    kpi(
        "engagement_rate",
        CUSTOMERS,
        ("Taux d'engagement client", "Customer engagement rate"),
        (
            "Clients distincts ayant interagi dans la période, sur les clients actifs en début de période.",
            "Distinct customers with an interaction in the period over customers active at the start.",
        ),
        "%",
        UP,
        "100 * engaged / customers_start",
        [event("engaged", "interactions", "count_distinct", "occurred_at", field="customer"), CUSTOMERS_START],
    ),
    kpi(
        "complaints",
        CUSTOMERS,
        ("Plaintes", "Complaints"),
        ("Tickets de type plainte créés dans la période.", "Complaint tickets created in the period."),
        "n",
        DOWN,
        "complaints",
        [event("complaints", "tickets", "count", "created_at", filters=[eq("kind", "complaint")])],
        segments=("channel",),
        additive=True,
    ),
    # ------------------------------------------------------------------ Support — Service client
    kpi(
        "tickets",
        SUPPORT,
        ("Demandes reçues", "Tickets created"),
        ("Tickets créés dans la période.", "Tickets created in the period."),
        "n",
        NEUTRAL,
        "tickets",
        [event("tickets", "tickets", "count", "created_at")],
        segments=("channel", "kind"),
        additive=True,
    ),
    kpi(
        "ticket_first_response_time",
        SUPPORT,
        ("Temps de première réponse (médiane)", "First response time (median)"),
        (
            "Médiane du délai de première réponse des tickets créés dans la période, en heures.",
            "Median first-response time of the tickets created in the period, in hours.",
        ),
        "h",
        DOWN,
        "first_response",
        [
            duration(
                "first_response",
                "tickets",
                "median",
                "created_at",
                start="created_at",
                end="first_response_at",
                unit="h",
                filters=[has("first_response_at")],
            )
        ],
        segments=("channel", "kind"),
    ),
    kpi(
        "ticket_first_response_time_avg",
        SUPPORT,
        ("Temps de première réponse (moyenne)", "First response time (mean)"),
        (
            "Moyenne du délai de première réponse des tickets créés dans la période, en heures.",
            "Mean first-response time of the tickets created in the period, in hours.",
        ),
        "h",
        DOWN,
        "first_response",
        [
            duration(
                "first_response",
                "tickets",
                "avg",
                "created_at",
                start="created_at",
                end="first_response_at",
                unit="h",
                filters=[has("first_response_at")],
            )
        ],
        segments=("channel", "kind"),
    ),
    kpi(
        "ticket_resolution_time",
        SUPPORT,
        ("Temps de résolution", "Resolution time"),
        (
            "Durée moyenne de résolution des tickets résolus dans la période, en heures.",
            "Mean resolution time of the tickets resolved in the period, in hours.",
        ),
        "h",
        DOWN,
        "resolution",
        [
            duration(
                "resolution",
                "tickets",
                "avg",
                "resolved_at",
                start="created_at",
                end="resolved_at",
                unit="h",
                filters=[has("resolved_at")],
            )
        ],
        segments=("channel", "kind"),
    ),
    kpi(
        "first_contact_resolution_rate",
        SUPPORT,
        ("Résolution au premier contact", "First contact resolution"),
        (
            "Tickets résolus dans la période en un seul contact, sur ceux résolus avec au moins un contact.",
            "Tickets resolved in the period with a single contact over those resolved with at least one.",
        ),
        "%",
        UP,
        "100 * one_contact / contacted",
        [
            event("one_contact", "tickets", "count", "resolved_at", filters=[eq("contact_count", 1)]),
            event("contacted", "tickets", "count", "resolved_at", filters=[gte("contact_count", 1)]),
        ],
        segments=("channel", "kind"),
    ),
    # ------------------------------------------------------------------ Marketing
    kpi(
        "customer_acquisition_cost",
        MARKETING,
        ("Coût d'acquisition client (CAC)", "Customer acquisition cost"),
        (
            "Dépenses d'acquisition de la période divisées par les nouveaux clients.",
            "Acquisition spend of the period divided by the new customers.",
        ),
        "€",
        DOWN,
        "acquisition_spend / new_customers",
        [ACQUISITION_SPEND, NEW_CUSTOMERS],
        segments=("channel",),
    ),
    kpi(
        "marketing_roi",
        MARKETING,
        ("ROI marketing (sur CA)", "Marketing ROI (revenue-based)"),
        (
            "(CA des campagnes − dépenses d'acquisition) sur les dépenses d'acquisition de la période.",
            "(Campaign revenue − acquisition spend) over the acquisition spend of the period.",
        ),
        "%",
        UP,
        "100 * (campaign_revenue - acquisition_spend) / acquisition_spend",
        [stat_sum("campaign_revenue", "campaign-stats", "revenue"), ACQUISITION_SPEND],
        segments=("channel",),
    ),
    kpi(
        "retention_cost_per_customer",
        MARKETING,
        ("Coût de fidélisation par client", "Retention cost per customer"),
        (
            "Dépenses de fidélisation de la période sur les clients actifs en début de période.",
            "Retention spend of the period over the customers active at its start.",
        ),
        "€",
        DOWN,
        "retention_spend / customers_start",
        [
            event("retention_spend", "spend", "sum", "date", field="amount", filters=[eq("category", "retention")]),
            CUSTOMERS_START,
        ],
    ),
    kpi(
        "email_open_rate",
        MARKETING,
        ("Taux d'ouverture", "Email open rate"),
        ("E-mails ouverts sur e-mails délivrés.", "Emails opened over emails delivered."),
        "%",
        UP,
        "100 * opened / delivered",
        [stat_sum("opened", "campaign-stats"), stat_sum("delivered", "campaign-stats")],
        segments=("channel", "campaign"),
    ),
    kpi(
        "email_click_through_rate",
        MARKETING,
        ("Taux de clics (CTR)", "Click-through rate"),
        ("Clics sur e-mails délivrés.", "Clicks over emails delivered."),
        "%",
        UP,
        "100 * clicked / delivered",
        [stat_sum("clicked", "campaign-stats"), stat_sum("delivered", "campaign-stats")],
        segments=("channel", "campaign"),
    ),
    kpi(
        "email_click_to_open_rate",
        MARKETING,
        ("Taux de réactivité", "Click-to-open rate"),
        ("Clics sur e-mails ouverts.", "Clicks over emails opened."),
        "%",
        UP,
        "100 * clicked / opened",
        [stat_sum("clicked", "campaign-stats"), stat_sum("opened", "campaign-stats")],
        segments=("channel", "campaign"),
    ),
    kpi(
        "email_bounce_rate",
        MARKETING,
        ("Taux de rebond e-mail", "Email bounce rate"),
        ("E-mails rejetés sur e-mails envoyés.", "Emails bounced over emails sent."),
        "%",
        DOWN,
        "100 * bounced / sent",
        [stat_sum("bounced", "campaign-stats"), stat_sum("sent", "campaign-stats")],
        segments=("channel", "campaign"),
    ),
    kpi(
        "email_unsubscribe_rate",
        MARKETING,
        ("Taux de désabonnement e-mail", "Unsubscribe rate"),
        ("Désabonnements sur e-mails délivrés.", "Unsubscribes over emails delivered."),
        "%",
        DOWN,
        "100 * unsubscribed / delivered",
        [stat_sum("unsubscribed", "campaign-stats"), stat_sum("delivered", "campaign-stats")],
        segments=("channel", "campaign"),
    ),
    kpi(
        "web_visits",
        MARKETING,
        ("Visites du site", "Website visits"),
        ("Visites du site dans la période.", "Website visits in the period."),
        "n",
        UP,
        "visits",
        [stat_sum("visits", "web-traffic")],
        segments=("source",),
        additive=True,
    ),
    kpi(
        "web_bounce_rate",
        MARKETING,
        ("Taux de rebond du site", "Website bounce rate"),
        ("Visites à une page sur visites.", "Single-page visits over visits."),
        "%",
        DOWN,
        "100 * bounces / visits",
        [stat_sum("bounces", "web-traffic"), stat_sum("visits", "web-traffic")],
        segments=("source",),
    ),
    kpi(
        "web_time_per_page",
        MARKETING,
        ("Temps par page", "Time per page"),
        ("Temps total passé sur le site divisé par les pages vues, en secondes.", "Total time over page views (s)."),
        "s",
        UP,
        "total_time / pageviews",
        [stat_sum("total_time", "web-traffic", "total_time_s"), stat_sum("pageviews", "web-traffic")],
        segments=("source",),
    ),
    kpi(
        "web_conversion_rate",
        MARKETING,
        ("Taux de conversion du site", "Website conversion rate"),
        ("Conversions sur visites.", "Conversions over visits."),
        "%",
        UP,
        "100 * conversions / visits",
        [stat_sum("conversions", "web-traffic"), stat_sum("visits", "web-traffic")],
        segments=("source",),
    ),
    # ------------------------------------------------------------------ CRM adoption
    kpi(
        "crm_active_user_rate",
        ADOPTION,
        ("Taux d'utilisateurs actifs", "Active user rate"),
        (
            "Membres de l'équipe s'étant connectés dans la période, sur les membres de l'équipe en fin de période.",
            "Team members who logged in during the period over the team's members at its end.",
        ),
        "%",
        UP,
        "100 * active_users / members",
        [
            event("active_users", "logins", "count_distinct", "occurred_at", field="user"),
            state("members", "memberships", "count_distinct", "end", "created_at", field="user"),
        ],
    ),
]

CATALOGUE_CODES: tuple[str, ...] = tuple(entry["code"] for entry in CATALOGUE)
