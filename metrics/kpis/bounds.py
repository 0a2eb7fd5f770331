"""The values a KPI can take, read from its unit and formula: what a target may aim at.

* a formula that subtracts (a growth rate, an ROI, retention, NPS) can go negative: no floor,
  except NPS-like scores in points computed as `100 * (… − …) / …`, which stay within ±100;
* a rate in % computed as `100 * part / whole` (a share) stays within 0–100;
* anything else (counts, amounts, durations, averages of them) is never negative.
"""

from __future__ import annotations

from decimal import Decimal

from metrics.models import KpiDefinition

HUNDRED = Decimal(100)


def kpi_value_bounds(kpi: KpiDefinition) -> tuple[Decimal | None, Decimal | None]:
    """(lowest, highest) value the KPI can take; None: unbounded on that side."""
    formula = kpi.formula.replace(" ", "")
    subtracts = "-" in formula
    share = formula.startswith("100*") and kpi.unit in ("%", "pts")
    if subtracts:
        return (-HUNDRED, HUNDRED) if share and kpi.unit == "pts" else (None, None)
    if share:
        return Decimal(0), HUNDRED
    return Decimal(0), None
