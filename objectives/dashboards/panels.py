"""The charts of a team dashboard, registered as data: each panel names the KPI it reads, the stored cells it
needs (added to the page's one query of KPI values) and how it is drawn.

A new chart is one more `Panel` in `PANELS`; the team dashboard loops over the registry and
knows no KPI code itself. Pipeline and leads come from stored segment values; only when the
engine stored none (no segments configured, values not computed yet) is the activity read, one
grouped query each, over the team and its sub-teams.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from accounts.selectors import team_ids_with_descendants
from metrics.activity.selectors import leads_by_channel, open_deals_by_stage
from metrics.kpis.selectors import CellQuery, StoredCell, kpi_name
from metrics.models import KpiDefinition

# Stored cells by (kpi id, granularity, segment, period start).
Cells = dict[tuple[int, str, str, dt.date], StoredCell]


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

    def subtree(self) -> set[int]:
        """The team and its sub-teams, read once per page whichever panels fall back on activity."""
        if self._subtree is None:
            self._subtree = team_ids_with_descendants([self.team_id])
        return self._subtree


SALES, MARKETING, SUPPORT, OTHER = "sales", "marketing", "support", "other"


@dataclass(frozen=True)
class Panel:
    """One chart: `key` in the page's charts, the KPI it reads, the cells it needs, its drawing, and the kinds of
    team whose job it serves (a support team has no revenue chart)."""

    key: str
    kpi_code: str
    reads: Callable[[KpiDefinition, PanelFrame], CellQuery]
    draw: Callable[[KpiDefinition | None, Cells, PanelFrame], dict]
    kinds: frozenset[str]


def _months(kpi: KpiDefinition, frame: PanelFrame) -> CellQuery:
    return CellQuery(kpi_ids=(kpi.pk,), granularities=("month",), starts=frame.month_starts)


def _period(kpi: KpiDefinition, frame: PanelFrame) -> CellQuery:
    return CellQuery(kpi_ids=(kpi.pk,), granularities=(frame.granularity,), starts=(frame.start,))


def _by(dimension: str) -> Callable[[KpiDefinition, PanelFrame], CellQuery]:
    def reads(kpi: KpiDefinition, frame: PanelFrame) -> CellQuery:
        return CellQuery(
            kpi_ids=(kpi.pk,),
            granularities=(frame.granularity,),
            segments=None,
            dimension=dimension,
            starts=(frame.start,),
        )

    return reads


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


def revenue_chart(kpi: KpiDefinition | None, cells: Cells, frame: PanelFrame) -> dict:
    """The KPI month by month over the last twelve months."""
    if kpi is None:
        return {"labels": [], "values": []}
    return {
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "labels": [s.isoformat() for s in frame.month_starts],
        "values": [
            number(cells[(kpi.pk, "month", "", s)].value) if (kpi.pk, "month", "", s) in cells else None
            for s in frame.month_starts
        ],
    }


def nps_chart(kpi: KpiDefinition | None, cells: Cells, frame: PanelFrame) -> dict:
    """Promoters, passives and detractors of the selected period, from the NPS components."""
    cell = cells.get((kpi.pk, frame.granularity, "", frame.start)) if kpi is not None else None
    components = (cell.components if cell else None) or {}
    promoters = components.get("promoters")
    detractors = components.get("detractors")
    responses = components.get("responses")
    if not responses or promoters is None or detractors is None:
        return {"labels": [], "values": [], "responses": 0}
    passives = responses - promoters - detractors
    return {
        "labels": [str(_("Promoters")), str(_("Passives")), str(_("Detractors"))],
        "values": [promoters, passives, detractors],
        "responses": responses,
        "score": number(cell.value),
    }


def pipeline_chart(kpi: KpiDefinition | None, cells: Cells, frame: PanelFrame) -> dict:
    """Open pipeline by stage: the stored pipeline value by stage, else the open deals themselves."""
    # Deals open at the end of the period (the pipeline_value KPI by stage); the counts are not stored there.
    # Stages with no open amount (the closed ones, mostly) are left out of an open-pipeline chart.
    segments = _segments(kpi, cells, frame, "stage")
    if segments:
        stored = [(name, value) for name, value in segments if value]
        return {
            "source": "kpi",
            "labels": [name or str(_("(no stage)")) for name, _v in stored],
            "counts": [],
            "amounts": [number(v) for _n, v in stored],
        }
    rows = open_deals_by_stage(team_ids=frame.subtree())
    return {
        "source": "deals",
        "labels": [stage or str(_("(no stage)")) for stage, _count, _amount in rows],
        "counts": [count for _stage, count, _amount in rows],
        "amounts": [number(amount) for _stage, _count, amount in rows],
    }


def leads_chart(kpi: KpiDefinition | None, cells: Cells, frame: PanelFrame) -> dict:
    """Leads of the selected period by channel: the stored leads by channel, else the leads themselves."""
    stored = _segments(kpi, cells, frame, "channel")
    if stored:
        ordered = sorted(stored)  # by channel name, as the engine stores them
        return {"source": "kpi", "labels": [name for name, _v in ordered], "values": [number(v) for _n, v in ordered]}
    rows = leads_by_channel(team_ids=frame.subtree(), start=frame.start, end=frame.end)
    return {
        "source": "leads",
        "labels": [channel or str(_("(no channel)")) for channel, _count in rows],
        "values": [count for _channel, count in rows],
    }


PANELS: tuple[Panel, ...] = (
    Panel("revenue", "revenue", reads=_months, draw=revenue_chart, kinds=frozenset({SALES, OTHER})),
    Panel("nps", "nps", reads=_period, draw=nps_chart, kinds=frozenset({SUPPORT, OTHER})),
    Panel("pipeline", "pipeline_value", reads=_by("stage"), draw=pipeline_chart, kinds=frozenset({SALES, OTHER})),
    Panel(
        "leads_by_channel", "leads", reads=_by("channel"), draw=leads_chart, kinds=frozenset({MARKETING, SALES, OTHER})
    ),
)


def panels_for(*, team_kind: str) -> tuple[Panel, ...]:
    """The panels of a team's dashboard: those serving its kind of team (any other kind sees them all)."""
    kind = team_kind if team_kind in (SALES, MARKETING, SUPPORT) else OTHER
    return tuple(panel for panel in PANELS if kind in panel.kinds)
