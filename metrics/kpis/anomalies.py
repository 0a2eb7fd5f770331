"""The expected band of a KPI value, from the KPI's own history: what an anomaly alert rule judges against.

No threshold to type: a value is an anomaly when it falls outside the band its history predicts for its
period. The method is chosen by measurement (bench/anomalies.py, synthetic series with injected spikes, dips,
level shifts and a recurring seasonal peak, and the demo's daily revenue):

- ``stl``: on a daily series with at least STL_MIN days of history, a robust STL decomposition (statsmodels,
  weekly period) of the last STL_WINDOW days; the expectation is the trend's last value plus the same
  weekday's seasonal part; the width K robust standard deviations of the forecast's error (1.4826 × the MAD
  of the day-to-day changes of the seasonally adjusted series, / √2, times the measured ratio of a
  forecast's error to that noise: one past outlier does not widen the band). Monthly and quarterly series
  with two years of history get the same with a yearly period. Amounts are judged on their logarithm (their
  seasonality and noise are proportional to their level: a quiet Sunday varies less in euros than a Friday).
- ``seasonal_median``: with less history (or another granularity), the median of the same weekday's last
  values (daily) or of the last values, and K × 1.4826 × MAD of them.
- ``zscore`` (mean ± K standard deviations of the last values) is measured by the bench only, as the naïve
  reference: a spike in the history widens its band for weeks.
- nothing (too little history): no band, and the rule never fires.

Yearly seasonality: where a year of history exists, the same period a year earlier (364 days for a day, so
that the weekday matches: Black Friday falls on last year's Black Friday) is judged the same way; when it was
itself outside its band (a seasonal peak, not noise), the band is stretched to cover the same relative
deviation this year, so a peak that recurs does not fire, while a normal day where last year had one does not
either.

Sampling error: a rate (unit %), the NPS and a count cannot be judged more precisely than their sample
allows. The band is widened to at least the sampling band around the expectation at SAMPLING_Z standard
errors: for a proportion the score test whose inversion is the Wilson interval (the value fires only when the
expectation lies outside the Wilson interval of the value), for the NPS its variance
((p_promoters + p_detractors) − (p_promoters − p_detractors)²) / n, for a count a Poisson error. A rate or
NPS computed from fewer than MIN_SAMPLE records is not judged at all: a small sample never fires.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from metrics.kpis.periods import Granularity, period_shift
from metrics.kpis.selectors import CellQuery, kpi_cells

# Width of the band in robust standard deviations, chosen by bench/anomalies.py (seed 7, `auto`): at 3.5 the
# synthetic series gives precision 1.00 and recall 1.00 with no seasonal peak flagged (3: precision 0.89, Black
# Friday flagged once; 4: recall 0.93), the demo's revenue precision 0.91 and recall 0.83 (4: recall 0.75).
# A rule's threshold, when given, replaces it.
K = 3.5
MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normal noise
SAMPLING_Z = 3.0  # standard errors of the sampling band
MIN_SAMPLE = 30  # records under which a rate or an NPS is not judged

STL = "stl"
SEASONAL_MEDIAN = "seasonal_median"
ZSCORE = "zscore"
AUTO = "auto"
METHODS = (STL, SEASONAL_MEDIAN, ZSCORE)

# The seasonal period within a year, by granularity (None: none shorter than a year).
SEASON = {Granularity.DAY: 7, Granularity.WEEK: None, Granularity.MONTH: 12, Granularity.QUARTER: 4}
# Periods back to the same period a year earlier (a day: 52 weeks, so that the weekday matches).
YEAR_LAG = {Granularity.DAY: 364, Granularity.WEEK: 52, Granularity.MONTH: 12, Granularity.QUARTER: 4}
# STL: history needed (in periods) and the window it is fitted on.
STL_MIN = {Granularity.DAY: 56, Granularity.MONTH: 24, Granularity.QUARTER: 12}
STL_WINDOW = {Granularity.DAY: 112, Granularity.MONTH: 36, Granularity.QUARTER: 16}
# Seasonal median: values used (same season), and the fewest it judges on.
MEDIAN_VALUES = 8
MEDIAN_MIN = 4
ZSCORE_WINDOW = 56
# How far back an anomaly rule reads: STL's window a year ago plus a margin.
HISTORY_PERIODS = {
    Granularity.DAY: 364 + 112 + 7,
    Granularity.WEEK: 52 + 12 + 2,
    Granularity.MONTH: 12 + 36 + 1,
    Granularity.QUARTER: 4 + 16 + 1,
    Granularity.YEAR: 12,
}
MAX_MISSING = 0.2  # STL on a history with more gaps than this falls back to the seasonal median
# STL's seasonal smoother, in seasons: a weekday's pattern changes slowly (statsmodels' default, 7, follows the
# noise).
STL_SEASONAL = 35
# A one-day-ahead forecast errs by more than the day-to-day noise (the trend's end and the weekday pattern are
# estimates too): the ratio measured by bench/anomalies.py on normal days (robust σ of the errors ÷ the noise's).
STL_FORECAST_INFLATION = 1.6


@dataclass(frozen=True)
class Band:
    """What a period's value is expected to be, and the interval outside which it is an anomaly."""

    expected: float
    lower: float
    upper: float
    method: str
    sigma: float  # the robust standard deviation of the history's noise around the expectation

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    def distance(self, value: float) -> float | None:
        """How far outside the band, in % of the bound passed (−31: 31 % under the lower bound); 0 inside, None
        past a bound of 0."""
        if self.contains(value):
            return 0.0
        bound = self.upper if value > self.upper else self.lower
        if bound == 0:
            return None
        return (value - bound) * 100 / abs(bound)

    def document(self, value: float | Decimal | None = None) -> dict:
        """The band as stored on an alert's history row and sent in webhooks (plain JSON numbers)."""
        document = {
            "expected": _round(self.expected),
            "lower": _round(self.lower),
            "upper": _round(self.upper),
            "method": self.method,
        }
        if value is not None:
            value = float(value)
            distance = self.distance(value)
            document["distance"] = None if distance is None else round(distance, 2)
            document["side"] = "above" if value > self.upper else "below" if value < self.lower else "inside"
        return document


def _round(value: float) -> float:
    return float(f"{value:.6g}") if abs(value) < 1e6 else round(value, 2)


def mad_sigma(values: Sequence[float]) -> float:
    """1.4826 × the median absolute deviation from the median: a standard deviation one outlier cannot move."""
    array = np.asarray(values, dtype=float)
    return float(MAD_SCALE * np.median(np.abs(array - np.median(array))))


def _floor(sigma: float, centre: float, relative: bool) -> float:
    # A flat history (MAD 0) would make any change an anomaly: at least 1 % of the expectation.
    return max(sigma, 0.01 if relative else 0.01 * abs(centre), 1e-9)


# ---------------------------------------------------------------------------
# Methods: each gives (expected, sigma) for the period after `values` (oldest first, NaN for a gap) or None.
# ---------------------------------------------------------------------------
def _stl(values: np.ndarray, granularity: str) -> tuple[float, float] | None:
    from statsmodels.tsa.seasonal import STL as STLModel  # noqa: N811 - statsmodels' name; imported when used

    period = SEASON.get(granularity)
    if period is None or len(values) < STL_MIN.get(granularity, math.inf):
        return None
    window = values[-STL_WINDOW[granularity] :]
    missing = np.isnan(window)
    if missing.mean() > MAX_MISSING:
        return None
    if missing.any():
        index = np.arange(len(window))
        window = np.interp(index, index[~missing], window[~missing])
    fit = STLModel(window, period=period, seasonal=STL_SEASONAL, robust=True).fit()
    # The trend's last value plus the same season's part (carrying the trend forward at its slope did worse on
    # the bench: the slope at the end of the window is mostly noise).
    expected = fit.trend[-1] + fit.seasonal[-period]
    # The noise from day to day of the seasonally adjusted series (MAD of its differences / √2): STL's own
    # residuals are shrunk by the fit (about half a forecast's error, measured by the bench).
    adjusted = window - fit.seasonal
    return float(expected), STL_FORECAST_INFLATION * mad_sigma(np.diff(adjusted)) / math.sqrt(2)


def _seasonal_median(values: np.ndarray, granularity: str) -> tuple[float, float] | None:
    step = SEASON.get(granularity) if granularity == Granularity.DAY else 1
    picked = values[::-1][step - 1 :: step][:MEDIAN_VALUES]
    picked = picked[~np.isnan(picked)]
    if len(picked) < MEDIAN_MIN:
        return None
    return float(np.median(picked)), mad_sigma(picked)


def _zscore(values: np.ndarray, granularity: str) -> tuple[float, float] | None:
    window = values[-ZSCORE_WINDOW:]
    window = window[~np.isnan(window)]
    if len(window) < MEDIAN_MIN * 2:
        return None
    return float(np.mean(window)), float(np.std(window, ddof=1))


ESTIMATORS = {STL: _stl, SEASONAL_MEDIAN: _seasonal_median, ZSCORE: _zscore}


def _estimate(values: np.ndarray, granularity: str, method: str) -> tuple[str, float, float] | None:
    """(method used, expected, sigma): `auto` tries STL, then the seasonal median."""
    for name in (STL, SEASONAL_MEDIAN) if method == AUTO else (method,):
        found = ESTIMATORS[name](values, granularity)
        if found is not None and math.isfinite(found[0]) and math.isfinite(found[1]):
            return name, found[0], found[1]
    return None


def _values_before(history: Mapping[dt.date, float | None], at: dt.date, granularity: str, count: int) -> np.ndarray:
    """The `count` periods before `at`, oldest first, NaN where nothing is stored; the leading gap trimmed."""
    starts = [period_shift(at, granularity, -n) for n in range(count, 0, -1)]
    values = np.array([np.nan if history.get(s) is None else float(history[s]) for s in starts], dtype=float)
    known = np.flatnonzero(~np.isnan(values))
    return values[known[0] :] if len(known) else values[:0]


def expected_band(
    history: Mapping[dt.date, float | Decimal | None],
    *,
    at: dt.date,
    granularity: str,
    method: str = AUTO,
    k: float = K,
    yearly: bool = True,
    relative: bool | None = None,
) -> Band | None:
    """The band the value of the period starting `at` is expected in, from the values of the periods before it
    (`history`: period start → value; later periods are ignored). None without enough history: never fires.

    `relative` (default: when every value of the history is positive) judges the logarithms: an amount's
    seasonality and noise are proportional to its level (a quiet Sunday varies in euros less than a Friday),
    and the band is then a ratio of the expectation, wider above it than below."""
    count = HISTORY_PERIODS.get(granularity, 12)
    values = _values_before(history, at, granularity, count)
    if relative is None:
        # Judged on what the estimate reads (a young business's empty first days do not matter).
        recent = values[-STL_WINDOW.get(granularity, MEDIAN_VALUES * (SEASON.get(granularity) or 1)) :]
        recent = recent[~np.isnan(recent)]
        relative = len(recent) > 0 and bool((recent > 0).all())

    def scale(array: np.ndarray) -> np.ndarray:
        if not relative:
            return array
        # A value of 0 or less has no logarithm: a gap (too many of them, and no band).
        return np.log(np.where(array > 0, array, np.nan))

    found = _estimate(scale(values), granularity, method)
    if found is None:
        return None
    name, centre, sigma = found
    sigma = _floor(sigma, centre, relative)
    lower, upper = centre - k * sigma, centre + k * sigma
    lag = YEAR_LAG.get(granularity)
    last_year = history.get(period_shift(at, granularity, -lag)) if yearly and lag else None
    if last_year is not None and (not relative or last_year > 0):
        # Last year's same period, judged the same way: a peak it was outside its band with recurs this year
        # (by the same ratio, for a relative band): the band stretches to cover it.
        before = _values_before(history, period_shift(at, granularity, -lag), granularity, count - lag)
        then = _estimate(scale(before), granularity, name)
        if then is not None:
            _name, then_centre, then_sigma = then
            shift = float(scale(np.array([float(last_year)]))[0]) - then_centre
            if abs(shift) > k * _floor(then_sigma, then_centre, relative):
                centre += shift
                lower, upper = min(lower, lower + shift), max(upper, upper + shift)
    if relative:
        return Band(
            expected=math.exp(centre),
            lower=math.exp(lower),
            upper=math.exp(upper),
            method=name,
            sigma=math.exp(centre) * sigma,
        )
    return Band(expected=centre, lower=lower, upper=upper, method=name, sigma=sigma)


# ---------------------------------------------------------------------------
# Sampling error
# ---------------------------------------------------------------------------
def wilson_interval(p: float, n: float, z: float = SAMPLING_Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion `p` (0–1) observed on `n` records."""
    if n <= 0:
        return 0.0, 1.0
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_half_width(p0: float, n: float, z: float = SAMPLING_Z) -> float:
    """Half the score-test band around an expected proportion `p0`: an observed p outside p0 ± this is exactly
    one whose Wilson interval leaves p0 out."""
    p0 = min(max(p0, 0.0), 1.0)
    return z * math.sqrt(p0 * (1 - p0) / n)


def nps_standard_error(*, promoters: float, detractors: float, n: float) -> float:
    """The standard error of an NPS, in points: 100 × √(((p_p + p_d) − (p_p − p_d)²) / n)."""
    p_p, p_d = promoters / n, detractors / n
    return 100 * math.sqrt(max((p_p + p_d) - (p_p - p_d) ** 2, 0.0) / n)


@dataclass(frozen=True)
class Sample:
    """What a value was computed from: `n` records (None: unknown), and the NPS's promoters and detractors."""

    n: float | None = None
    promoters: float | None = None
    detractors: float | None = None


def sample_of(components: Mapping | None, *, n: float | Decimal | None) -> Sample:
    """The sample of a stored value: `n` as the rule counts it, the NPS's promoters and detractors if any."""

    def number(name: str) -> float | None:
        raw = (components or {}).get(name)
        return None if raw is None or isinstance(raw, bool) else float(raw)

    return Sample(n=None if n is None else float(n), promoters=number("promoters"), detractors=number("detractors"))


def sampling_half_width(*, unit: str, expected: float, sample: Sample, z: float = SAMPLING_Z) -> float | None:
    """How far from the expectation a value may fall from sampling alone, in the KPI's unit: a proportion
    (unit %, expectation within 0–100), the NPS (promoters and detractors known) or a count (unit n, Poisson);
    None when nothing is known of the sample."""
    if unit == "n":
        return z * math.sqrt(max(expected, 1.0))
    if not sample.n:
        return None
    if sample.promoters is not None and sample.detractors is not None:
        return z * nps_standard_error(promoters=sample.promoters, detractors=sample.detractors, n=sample.n)
    if unit == "%" and 0 <= expected <= 100:
        return 100 * proportion_half_width(expected / 100, sample.n, z)
    return None


def is_sampled(*, unit: str, sample: Sample) -> bool:
    """A rate or an NPS: judged only on MIN_SAMPLE records or more."""
    return unit == "%" or (sample.promoters is not None and sample.detractors is not None)


def band_with_sampling(band: Band, *, unit: str, sample: Sample, z: float = SAMPLING_Z) -> Band | None:
    """The band widened to the sampling band when that is wider; None (not judged) for a rate or an NPS on
    fewer than MIN_SAMPLE records, or on an unknown sample when it needs one."""
    if is_sampled(unit=unit, sample=sample) and sample.n is not None and sample.n < MIN_SAMPLE:
        return None
    half = sampling_half_width(unit=unit, expected=band.expected, sample=sample, z=z)
    if half is None:
        return band
    return replace(band, lower=min(band.lower, band.expected - half), upper=max(band.upper, band.expected + half))


def anomaly_band(
    history: Mapping[dt.date, float | Decimal | None],
    *,
    at: dt.date,
    granularity: str,
    unit: str,
    components: Mapping | None = None,
    n: float | Decimal | None = None,
    k: float = K,
) -> Band | None:
    """The band of one stored value: its history's band (expected_band), widened by its sampling error."""
    # Rates and scores are judged in their points (bounded, their noise is not proportional to them).
    relative = None if unit not in ("%", "pts") else False
    band = expected_band(history, at=at, granularity=granularity, k=k, relative=relative)
    if band is None:
        return None
    return band_with_sampling(band, unit=unit, sample=sample_of(components, n=n))


# ---------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------
def history_start(at: dt.date, granularity: str) -> dt.date:
    """The first period an anomaly rule on the period starting `at` reads."""
    return period_shift(at, granularity, -HISTORY_PERIODS.get(granularity, 12))


def kpi_histories(
    *,
    kpi_id: int,
    cells: Iterable[tuple[int, str, str]],
    first: dt.date,
    last: dt.date,
) -> dict[tuple[int, str, str], dict[dt.date, Decimal | None]]:
    """The stored values of one KPI for these (team id, granularity, segment) cells over the periods starting in
    [first, last], by cell then period start; one query whatever their number."""
    cells = set(cells)
    if not cells:
        return {}
    query = CellQuery(
        kpi_ids=(kpi_id,),
        granularities=tuple({granularity for _t, granularity, _s in cells}),
        segments=tuple({segment for _t, _g, segment in cells}),
        first=first,
        last=last,
    )
    histories: dict[tuple[int, str, str], dict[dt.date, Decimal | None]] = {cell: {} for cell in cells}
    for cell in kpi_cells(team_ids={team_id for team_id, _g, _s in cells}, queries=[query]):
        key = (cell.team_id, cell.granularity, cell.segment)
        if key in histories:
            histories[key][cell.period_start] = cell.value
    return histories
