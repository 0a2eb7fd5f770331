"""The charts of a team dashboard, registered as data: each panel names the KPIs it reads, the stored cells it
needs (added to the page's one query of KPI values), how it is drawn, the jobs it serves and what to say when
there is nothing to draw.

A new chart is one more `Panel` in `PANELS`; the team dashboard loops over the panels the team shows (its
manager's choice, else its kind's defaults) and knows no KPI code itself. Pipeline and leads come from stored
segment values; only when the engine stored none (no segments configured, values not computed yet) is the
activity read, one grouped query each, over the team and its sub-teams. The budget line reads the team's
budgets once, shared with the dashboard's budget block.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, TeamKind
from accounts.selectors import team_ids_with_descendants
from metrics.activity.selectors import leads_by_channel, open_deals_by_stage
from metrics.kpis.labels import code_label, deal_stages
from metrics.kpis.periods import period_end
from metrics.kpis.selectors import CellQuery, StoredCell, kpi_name
from metrics.models import KpiDefinition
from metrics.models.activity import Deal, Lead, Order, Spend, SpendCategory, SurveyResponse, Ticket
from objectives.budgets.selectors import budgets_of
from objectives.models import Budget, DashboardPanel

# Stored cells by (kpi id, granularity, segment, period start).
Cells = dict[tuple[int, str, str, dt.date], StoredCell]
# The panel's KPIs in the order of its `kpi_codes`, None for a code the catalogue lacks.
Kpis = Sequence[KpiDefinition | None]


def number(value: Decimal | None) -> float | None:
    """A value as JSON-friendly float, None kept."""
    return None if value is None else float(value)


@dataclass
class PanelFrame:
    """What the panels are drawn for: the team, the selected period (its granularity, first and last day) and
    the twelve months ending with it (or with today, if it is not over)."""

    team_id: int
    granularity: str
    start: dt.date
    end: dt.date
    month_starts: tuple[dt.date, ...]
    _subtree: set[int] | None = field(default=None, repr=False)
    _budgets: list[Budget] | None = field(default=None, repr=False)

    def subtree(self) -> set[int]:
        """The team and its sub-teams, read once per page whichever panels fall back on activity."""
        if self._subtree is None:
            self._subtree = team_ids_with_descendants([self.team_id])
        return self._subtree

    def budgets(self) -> list[Budget]:
        """The team's budgets meeting the twelve months or the selected period, read once per page (one query,
        shared by the budget line and the dashboard's budget block)."""
        if self._budgets is None:
            first = min(self.month_starts[0], self.start) if self.month_starts else self.start
            self._budgets = list(budgets_of(team_ids=[self.team_id], first=first, last=self.end))
        return self._budgets


SALES, MARKETING, SUPPORT, OTHER = "sales", "marketing", "support", "other"
JOBS = (SALES, MARKETING, SUPPORT)


@dataclass(frozen=True)
class Panel:
    """One chart: `key` in the page's charts, the KPIs it reads and the cells it needs, its drawing, the kinds of
    team it is shown to by default (a support team has no revenue chart), its title and description, and — when
    there is nothing to draw — the sentence saying what is missing and how to get it (`%(import)s` names the
    import page's choice for `records`)."""

    key: str
    kpi_codes: tuple[str, ...]
    reads: Callable[[Sequence[KpiDefinition], PanelFrame], CellQuery]
    draw: Callable[[Kpis, Cells, PanelFrame], dict]
    kinds: frozenset[str]
    title: str | Promise
    description: str | Promise
    missing: str | Promise
    records: type[models.Model]

    @property
    def job(self) -> str:
        """The job the panel serves first (sales, marketing or support), to group the editor's choices."""
        return next((job for job in JOBS if job in self.kinds), OTHER)

    def import_path(self) -> str:
        """Where its records are imported, as the import page names it: « Import › Demandes »."""
        return f"{gettext('Import')} › {capfirst(self.records._meta.verbose_name_plural)}"

    def summary(self, chart: dict) -> dict:
        """What the page shows around the drawn `chart`: title, description, whether there is anything to draw,
        else the sentence saying what is missing and how to get it, and a note on what the values are."""
        return {
            "key": self.key,
            "title": str(self.title),
            "description": str(self.description),
            "has_data": bool(chart.get("has_data")),
            "missing": str(self.missing) % {"import": self.import_path()},
            "note": chart.get("note", ""),
        }


# --------------------------------------------------------------------------- cells a panel reads


def _months(kpis: Sequence[KpiDefinition], frame: PanelFrame) -> CellQuery:
    return CellQuery(kpi_ids=tuple(k.pk for k in kpis), granularities=("month",), starts=frame.month_starts)


def _period(kpis: Sequence[KpiDefinition], frame: PanelFrame) -> CellQuery:
    return CellQuery(kpi_ids=tuple(k.pk for k in kpis), granularities=(frame.granularity,), starts=(frame.start,))


def _by(dimension: str) -> Callable[[Sequence[KpiDefinition], PanelFrame], CellQuery]:
    def reads(kpis: Sequence[KpiDefinition], frame: PanelFrame) -> CellQuery:
        return CellQuery(
            kpi_ids=tuple(k.pk for k in kpis),
            granularities=(frame.granularity,),
            segments=None,
            dimension=dimension,
            starts=(frame.start,),
        )

    return reads


# --------------------------------------------------------------------------- drawings


def _segments(kpi: KpiDefinition | None, cells: Cells, frame: PanelFrame, dimension: str) -> list:
    """Stored (segment value, value) of `kpi` by `dimension` for the selected period, largest first."""
    if kpi is None:
        return []
    prefix = f"{dimension}="
    segments = [
        (key[2][len(prefix) :], cell.value)
        for key, cell in cells.items()
        if key[0] == kpi.pk and key[1] == frame.granularity and key[2].startswith(prefix) and key[3] == frame.start
    ]
    return sorted(segments, key=lambda item: (-(item[1] or 0), item[0]))


def unit_label(unit: str) -> str:
    """A unit as the page writes it after a number (days in the active language: « j »)."""
    return pgettext("unit: days", "d") if unit == "d" else unit


def _month_series(kpi: KpiDefinition, cells: Cells, frame: PanelFrame, style: str) -> dict:
    """The KPI month by month over the twelve months, and whether any month says something: a value of a rate or
    a time, or a sum other than zero (twelve months of zero orders is "no order", not a chart of zeros)."""
    values = [
        number(cells[(kpi.pk, "month", "", s)].value) if (kpi.pk, "month", "", s) in cells else None
        for s in frame.month_starts
    ]
    return {
        "kpi": kpi.code,
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "unit_label": unit_label(kpi.unit),
        "style": style,
        "values": values,
        "has_data": any(v is not None and (v != 0 or not kpi.additive) for v in values),
    }


def monthly(*styles: str) -> Callable[[Kpis, Cells, PanelFrame], dict]:
    """A drawing of the panel's KPIs month by month, one series each, drawn as `styles` ("bar" or "line"); two
    units get two axes."""

    def draw(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
        series = [
            _month_series(kpi, cells, frame, style) for kpi, style in zip(kpis, styles, strict=True) if kpi is not None
        ]
        return {
            "type": "months",
            "labels": [s.isoformat() for s in frame.month_starts],
            "series": series,
            "has_data": any(s["has_data"] for s in series),
        }

    return draw


def revenue_chart(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
    """Revenue (bars) and orders (line) month by month over the last twelve months; `name`, `unit` and `values`
    stay the revenue's, as the dashboard's JSON always gave them."""
    chart = monthly("bar", "line")(kpis, cells, frame)
    if kpis[0] is None:  # no revenue KPI in the catalogue: its series is left out
        return chart | {"values": []}
    revenue = chart["series"][0]
    return chart | {"name": revenue["name"], "unit": revenue["unit"], "values": revenue["values"]}


def nps_chart(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
    """Promoters, passives and detractors of the selected period, from the NPS components."""
    kpi = kpis[0]
    cell = cells.get((kpi.pk, frame.granularity, "", frame.start)) if kpi is not None else None
    components = (cell.components if cell else None) or {}
    promoters = components.get("promoters")
    detractors = components.get("detractors")
    responses = components.get("responses")
    if not responses or promoters is None or detractors is None:
        return {"type": "doughnut", "labels": [], "values": [], "responses": 0, "has_data": False}
    passives = responses - promoters - detractors
    return {
        "type": "doughnut",
        "labels": [str(_("Promoters")), str(_("Passives")), str(_("Detractors"))],
        "values": [promoters, passives, detractors],
        "responses": responses,
        "score": number(cell.value),
        "has_data": True,
    }


def pipeline_chart(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
    """Open pipeline by stage in funnel order: the stored pipeline value by stage, else the open deals themselves."""
    # Deals open at the end of the period (the pipeline_value KPI by stage); the counts are not stored there.
    # Stages with no open amount (the closed ones, mostly) are left out of an open-pipeline chart.
    rank = {str(code): index for index, (code, _label) in enumerate(deal_stages())}

    def funnel(stage: str) -> tuple:  # known stages in funnel order, then the others by name, none last
        return (rank.get(stage, len(rank)), stage == "", stage)

    stored = sorted(
        ((name, value) for name, value in _segments(kpis[0], cells, frame, "stage") if value),
        key=lambda r: funnel(r[0]),
    )
    if stored:
        chart = {
            "source": "kpi",
            "stages": [name for name, _v in stored],
            "counts": [],
            "amounts": [number(v) for _n, v in stored],
            "note": str(_("at the end of the period, by each deal's current stage")),
        }
    else:
        rows = sorted(open_deals_by_stage(team_ids=frame.subtree()), key=lambda r: funnel(r[0]))
        chart = {
            "source": "deals",
            "stages": [stage for stage, _count, _amount in rows],
            "counts": [count for _stage, count, _amount in rows],
            "amounts": [number(amount) for _stage, _count, amount in rows],
        }
    chart["labels"] = [code_label("stage", stage) if stage else str(_("(no stage)")) for stage in chart["stages"]]
    return {"type": "stages", **chart, "has_data": bool(chart["stages"])}


def leads_chart(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
    """Leads of the selected period by channel: the stored leads by channel, else the leads themselves."""
    stored = _segments(kpis[0], cells, frame, "channel")
    if stored:
        ordered = sorted(stored)  # by channel name, as the engine stores them
        chart = {"source": "kpi", "channels": [n for n, _v in ordered], "values": [number(v) for _n, v in ordered]}
    else:
        rows = leads_by_channel(team_ids=frame.subtree(), start=frame.start, end=frame.end)
        chart = {"source": "leads", "channels": [c for c, _count in rows], "values": [count for _c, count in rows]}
    chart["labels"] = [
        code_label("channel", channel) if channel else str(_("(no channel)")) for channel in chart["channels"]
    ]
    return {"type": "categories", **chart, "has_data": any(chart["values"])}


def _budget_of_month(budgets: Sequence[Budget], month: dt.date) -> Decimal | None:
    """The budgets' amounts planned for the month, each spread evenly over its days (None: no budget then)."""
    last = period_end(month, "month") - dt.timedelta(days=1)
    total, found = Decimal(0), False
    for budget in budgets:
        days = (min(budget.end_date, last) - max(budget.start_date, month)).days + 1
        if days > 0:
            found = True
            total += budget.amount * days / ((budget.end_date - budget.start_date).days + 1)
    return total.quantize(Decimal("0.01")) if found else None


def spend_budget_chart(kpis: Kpis, cells: Cells, frame: PanelFrame) -> dict:
    """Acquisition spend month by month (the stored acquisition cost's spend component: the CAC divides it by the
    new customers) against the team's acquisition budgets planned for each month — those of the whole acquisition
    spend: a channel's or a campaign's budget is a part of it, not more of it."""
    kpi = kpis[0]
    spend: list[float | None] = []
    for start in frame.month_starts:
        cell = cells.get((kpi.pk, "month", "", start)) if kpi is not None else None
        spend.append(number((cell.components or {}).get("acquisition_spend")) if cell else None)
    acquisition = [
        b
        for b in frame.budgets()
        if b.category == SpendCategory.ACQUISITION and not b.channel and b.campaign_id is None
    ]
    budget = [number(_budget_of_month(acquisition, start)) for start in frame.month_starts]
    series = [
        {"name": str(_("Acquisition spend")), "style": "bar", "values": spend, "has_data": any(spend)},
        {
            "name": str(_("Acquisition budget")),
            "style": "line",
            "dashed": True,
            "values": budget,
            "has_data": any(v is not None for v in budget),
        },
    ]
    return {
        "type": "months",
        "labels": [s.isoformat() for s in frame.month_starts],
        "series": [{"kpi": None, "unit": "€", "unit_label": "€", **line} for line in series],
        "has_data": any(line["has_data"] for line in series),
    }


# --------------------------------------------------------------------------- the registry

PANELS: tuple[Panel, ...] = (
    # Sales
    Panel(
        key="revenue",
        kpi_codes=("revenue", "orders"),
        reads=_months,
        draw=revenue_chart,
        kinds=frozenset({SALES, OTHER}),
        title=_("Revenue and orders per month"),
        description=_("Revenue and number of orders per month over the last 12 months"),
        missing=_(
            "No order recorded in the last 12 months: import your orders (%(import)s) or push them through the API."
        ),
        records=Order,
    ),
    Panel(
        key="pipeline",
        kpi_codes=("pipeline_value",),
        reads=_by("stage"),
        draw=pipeline_chart,
        kinds=frozenset({SALES, OTHER}),
        title=_("Open pipeline by stage"),
        description=_("Amount of open deals by stage, in the order of the sales funnel"),
        missing=_("No open deal: import your deals with their stage (%(import)s) or push them through the API."),
        records=Deal,
    ),
    Panel(
        key="win_rate",
        kpi_codes=("win_rate",),
        reads=_months,
        draw=monthly("line"),
        kinds=frozenset({SALES}),
        title=_("Win rate per month"),
        description=_("Deals won over deals closed, per month over the last 12 months"),
        missing=_(
            "No deal won or lost in the last 12 months: import your deals with their status and closing date "
            "(%(import)s) or push them through the API."
        ),
        records=Deal,
    ),
    Panel(
        key="sales_cycle",
        kpi_codes=("sales_cycle_length",),
        reads=_months,
        draw=monthly("line"),
        kinds=frozenset({SALES}),
        title=_("Sales cycle length per month"),
        description=_("Days from creation to signature of the deals won, per month over the last 12 months"),
        missing=_(
            "No deal won in the last 12 months: import your deals with their creation and closing dates "
            "(%(import)s) or push them through the API."
        ),
        records=Deal,
    ),
    # Marketing
    Panel(
        key="leads_by_channel",
        kpi_codes=("leads",),
        reads=_by("channel"),
        draw=leads_chart,
        kinds=frozenset({MARKETING, OTHER}),
        title=_("Leads by channel"),
        description=_("Leads of the period by channel"),
        missing=_(
            "No lead in this period: import your leads with their channel (%(import)s) or push them through the API."
        ),
        records=Lead,
    ),
    Panel(
        key="lead_conversion",
        kpi_codes=("lead_conversion_rate",),
        reads=_months,
        draw=monthly("line"),
        kinds=frozenset({MARKETING}),
        title=_("Lead conversion rate per month"),
        description=_("Share of the leads of each month converted into customers, over the last 12 months"),
        missing=_(
            "No lead created in the last 12 months: import your leads with their conversion date (%(import)s) "
            "or push them through the API."
        ),
        records=Lead,
    ),
    Panel(
        key="spend_budget",
        kpi_codes=("customer_acquisition_cost",),
        reads=_months,
        draw=spend_budget_chart,
        kinds=frozenset({MARKETING}),
        title=_("Acquisition spend and budget per month"),
        description=_("Acquisition spend per month against the acquisition budgets, over the last 12 months"),
        missing=_(
            "No acquisition spend nor budget in the last 12 months: import your spend (%(import)s) or push it "
            "through the API; budgets are set in the administration or through the API."
        ),
        records=Spend,
    ),
    Panel(
        key="cac_roi",
        kpi_codes=("customer_acquisition_cost", "marketing_roi"),
        reads=_months,
        draw=monthly("line", "line"),
        kinds=frozenset({MARKETING}),
        title=_("Acquisition cost and marketing ROI per month"),
        description=_("Customer acquisition cost and marketing ROI per month over the last 12 months"),
        missing=_(
            "No acquisition spend in the last 12 months: import your spend and your campaign statistics "
            "(%(import)s) or push them through the API."
        ),
        records=Spend,
    ),
    # Support
    Panel(
        key="tickets",
        kpi_codes=("tickets",),
        reads=_months,
        draw=monthly("bar"),
        kinds=frozenset({SUPPORT}),
        title=_("Tickets per month"),
        description=_("Tickets created per month over the last 12 months"),
        missing=_(
            "No ticket recorded in the last 12 months: import your tickets (%(import)s) or push them through the API."
        ),
        records=Ticket,
    ),
    Panel(
        key="response_times",
        kpi_codes=("ticket_first_response_time", "ticket_resolution_time"),
        reads=_months,
        draw=monthly("line", "line"),
        kinds=frozenset({SUPPORT}),
        title=_("First response and resolution times per month"),
        description=_("First response time and resolution time of the tickets, in hours, per month"),
        missing=_(
            "No ticket answered or resolved in the last 12 months: import your tickets with their first response "
            "and resolution dates (%(import)s) or push them through the API."
        ),
        records=Ticket,
    ),
    Panel(
        key="first_contact_resolution",
        kpi_codes=("first_contact_resolution_rate",),
        reads=_months,
        draw=monthly("line"),
        kinds=frozenset({SUPPORT}),
        title=_("First contact resolution per month"),
        description=_("Share of the tickets resolved in a single contact, per month over the last 12 months"),
        missing=_(
            "No ticket resolved in the last 12 months: import your tickets with their number of contacts "
            "(%(import)s) or push them through the API."
        ),
        records=Ticket,
    ),
    Panel(
        key="satisfaction",
        kpi_codes=("csat", "nps"),
        reads=_months,
        draw=monthly("line", "line"),
        kinds=frozenset({SUPPORT}),
        title=_("CSAT and NPS per month"),
        description=_("Customer satisfaction and Net Promoter Score per month over the last 12 months"),
        missing=_(
            "No CSAT or NPS answer in the last 12 months: import your survey responses (%(import)s) or push them "
            "through the API."
        ),
        records=SurveyResponse,
    ),
    Panel(
        key="nps",
        kpi_codes=("nps",),
        reads=_period,
        draw=nps_chart,
        kinds=frozenset({SUPPORT, OTHER}),
        title=_("NPS: promoters, passives and detractors"),
        description=_("Distribution of NPS answers for the period"),
        missing=_(
            "No NPS answer in this period: import your survey responses (%(import)s) or push them through the API."
        ),
        records=SurveyResponse,
    ),
)
PANELS_BY_KEY: dict[str, Panel] = {panel.key: panel for panel in PANELS}


def panels_for(*, team_kind: str) -> tuple[Panel, ...]:
    """The default panels of a kind of team: those serving its job (any other kind: the main chart of each)."""
    kind = team_kind if team_kind in JOBS else OTHER
    return tuple(panel for panel in PANELS if kind in panel.kinds)


def team_panels(*, team: Team) -> tuple[Panel, ...]:
    """The panels a team's dashboard shows, in order: its manager's choice, else its kind's defaults; one query.

    A chosen key the registry no longer knows is skipped.
    """
    keys = DashboardPanel.objects.filter(team=team).order_by("position").values_list("key", flat=True)
    chosen = tuple(PANELS_BY_KEY[key] for key in keys if key in PANELS_BY_KEY)
    return chosen or panels_for(team_kind=team.kind)


def dashboard_panels(*, team: Team) -> dict:
    """The team's charts in order for its editor, and whether they are its kind's defaults; one query."""
    chosen = list(DashboardPanel.objects.filter(team=team).order_by("position").values_list("key", flat=True))
    keys = chosen or [panel.key for panel in panels_for(team_kind=team.kind)]
    return {
        "is_default": not chosen,
        "panels": [
            {
                "key": key,
                "title": str(PANELS_BY_KEY[key].title) if key in PANELS_BY_KEY else key,
                "known": key in PANELS_BY_KEY,
            }
            for key in keys
        ],
    }


def dashboard_panel_choices(*, exclude: Sequence[str] = ()) -> list[dict]:
    """The charts a manager can add, by job (sales, marketing, customer service) in the registry's order."""
    jobs = {job: index for index, job in enumerate((*JOBS, OTHER))}
    rows = [
        {"key": panel.key, "title": str(panel.title), "job": str(TeamKind(panel.job).label), "rank": jobs[panel.job]}
        for panel in PANELS
        if panel.key not in exclude
    ]
    return sorted(rows, key=lambda row: row["rank"])
