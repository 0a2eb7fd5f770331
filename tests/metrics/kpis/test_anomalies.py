"""The expected band of a KPI value (metrics.kpis.anomalies): hand-computed bands, the sampling error of rates and
NPS, seasonal peaks that recur, and the precision and recall the bench measures (issue 18, item 4)."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from metrics.kpis import anomalies
from metrics.kpis.anomalies import (
    Band,
    Sample,
    anomaly_band,
    band_with_sampling,
    expected_band,
    nps_standard_error,
    proportion_half_width,
    wilson_interval,
)

MONDAY = dt.date(2026, 3, 2)


def four_mondays() -> dict[dt.date, float]:
    """28 days before MONDAY: the four Mondays 100, 104, 96, 110 (oldest last), every other day 50."""
    history = {MONDAY - dt.timedelta(days=n): 50.0 for n in range(1, 29)}
    for back, value in zip((7, 14, 21, 28), (100, 104, 96, 110), strict=True):
        history[MONDAY - dt.timedelta(days=back)] = value
    return history


def test_short_history_band_is_the_same_weekdays_median_and_mad_by_hand():
    # Four weeks (< 8 for STL): the same weekday's values 100, 104, 96, 110 → median 102; absolute deviations
    # 2, 2, 6, 8 → MAD 4 → σ = 1.4826 × 4 = 5.9304; K = 3.5 → half width 20.7564.
    band = expected_band(four_mondays(), at=MONDAY, granularity="day", relative=False)
    assert band.method == "seasonal_median"
    assert band.expected == pytest.approx(102)
    assert band.sigma == pytest.approx(5.9304)
    assert band.lower == pytest.approx(102 - 3.5 * 5.9304)
    assert band.upper == pytest.approx(102 + 3.5 * 5.9304)
    # k given: 2 × 5.9304 either side
    assert expected_band(four_mondays(), at=MONDAY, granularity="day", relative=False, k=2).upper == pytest.approx(
        113.8608
    )


def test_too_little_history_gives_no_band():
    history = four_mondays()
    del history[MONDAY - dt.timedelta(days=28)]  # three Mondays only: not judged
    assert expected_band(history, at=MONDAY, granularity="day") is None


def test_distance_is_in_percent_of_the_bound_passed():
    band = Band(expected=21_000, lower=18_000, upper=24_000, method="stl", sigma=857)
    # 12 430 under 18 000: (12 430 − 18 000) / 18 000 = −30.94 %
    assert band.distance(12_430) == pytest.approx(-30.944, abs=1e-3)
    assert band.distance(30_000) == pytest.approx(25.0)  # 6 000 / 24 000
    assert band.distance(20_000) == 0.0
    document = band.document(12_430)
    assert document == {
        "expected": 21000.0,
        "lower": 18000.0,
        "upper": 24000.0,
        "method": "stl",
        "distance": -30.94,
        "side": "below",
    }


def test_wilson_interval_by_hand_and_the_band_is_its_inversion():
    # p = 0.5, n = 100, z = 3: denominator 1 + 9/100 = 1.09; centre (0.5 + 0.045) / 1.09 = 0.5;
    # half 3 × √(0.0025 + 9/40 000) / 1.09 = 3 × 0.0522015 / 1.09 = 0.1436739.
    low, high = wilson_interval(0.5, 100, 3)
    assert (low, high) == (pytest.approx(0.3563261), pytest.approx(0.6436739))
    # The band around an expected 50 %: 3 × √(0.25 / 100) = 0.15; a value on its edge, 65 %, has a Wilson
    # interval that just reaches 50 %.
    assert proportion_half_width(0.5, 100, 3) == pytest.approx(0.15)
    assert wilson_interval(0.65, 100, 3)[0] == pytest.approx(0.5)


def test_nps_standard_error_by_hand():
    # 50 promoters, 20 detractors of 100: ((0.5 + 0.2) − 0.3²) / 100 = 0.0061 → √ = 0.0781025 → 7.81 points
    assert nps_standard_error(promoters=50, detractors=20, n=100) == pytest.approx(7.810250)


def test_a_rate_band_is_widened_to_its_sampling_error():
    narrow = Band(expected=50, lower=48, upper=52, method="stl", sigma=0.6)
    # 100 leads: 100 × 3 × √(0.25 / 100) = 15 points either side
    widened = band_with_sampling(narrow, unit="%", sample=Sample(n=100))
    assert (widened.lower, widened.upper) == (pytest.approx(35), pytest.approx(65))
    # 10 000 leads: 1.5 points, narrower than the history's band, which stays
    assert band_with_sampling(narrow, unit="%", sample=Sample(n=10_000)) == narrow


def test_an_nps_band_is_widened_by_its_variance():
    narrow = Band(expected=30, lower=27, upper=33, method="stl", sigma=0.9)
    widened = band_with_sampling(narrow, unit="pts", sample=Sample(n=100, promoters=50, detractors=20))
    # 3 × 7.81025 = 23.43 points either side of 30
    assert widened.lower == pytest.approx(30 - 23.430749)
    assert widened.upper == pytest.approx(30 + 23.430749)


def rate_history(level: float = 50.0) -> dict[dt.date, float]:
    rng = random.Random(3)  # nosec B311 - fixed test data
    return {MONDAY - dt.timedelta(days=n): level + rng.gauss(0, 1) for n in range(1, 120)}


def test_a_small_sample_never_fires_however_far_the_rate():
    history = rate_history()
    # 0 % of 20 leads against a history around 50 %: under the 30 records a rate needs, no band at all
    assert anomaly_band(history, at=MONDAY, granularity="day", unit="%", n=20) is None
    # the same 0 % of 40 leads: the band is at least 3 × √(0.25 / 40) = 23.7 points either side, and 0 is out
    band = anomaly_band(history, at=MONDAY, granularity="day", unit="%", n=40)
    assert band.lower == pytest.approx(
        band.expected - 100 * 3 * math.sqrt(band.expected / 100 * (1 - band.expected / 100) / 40)
    )
    assert not band.contains(0)
    # 40 % of 40 leads is within sampling error of 50 %: no anomaly, though far outside the history's ±3 points
    assert band.contains(40)
    assert not expected_band(history, at=MONDAY, granularity="day", relative=False).contains(40)


def test_an_nps_on_few_answers_never_fires():
    components = {"promoters": 2, "detractors": 10, "responses": 12}
    assert anomaly_band(rate_history(30), at=MONDAY, granularity="day", unit="pts", components=components, n=12) is None


def black_friday(year: int) -> dt.date:
    november = dt.date(year, 11, 1)
    return november + dt.timedelta(days=(4 - november.weekday()) % 7, weeks=3)


def test_a_recurring_seasonal_peak_is_not_an_anomaly_but_a_new_one_is():
    # Two years of daily revenue: 1 000 on weekdays, 600 at weekends, 3 % noise, Black Friday at 2.5 × each year.
    rng = random.Random(11)  # nosec B311 - fixed test data
    day, end = dt.date(2024, 10, 1), dt.date(2026, 12, 31)
    history = {}
    while day <= end:
        base = 600 if day.weekday() >= 5 else 1000
        history[day] = base * (2.5 if day == black_friday(day.year) else 1) * (1 + rng.gauss(0, 0.03))
        day += dt.timedelta(days=1)
    friday = black_friday(2026)
    assert friday - dt.timedelta(days=364) == black_friday(2025)  # last year's on the same weekday
    band = expected_band(history, at=friday, granularity="day")
    assert band.method == "stl"
    assert band.contains(history[friday])
    # Without last year's, it is one: the yearly part is what keeps it quiet.
    assert not expected_band(history, at=friday, granularity="day", yearly=False).contains(history[friday])
    # A Friday at 2.5 × a week later is an anomaly: last year had no peak then.
    later = friday + dt.timedelta(days=7)
    assert not expected_band(history, at=later, granularity="day").contains(history[friday])


def test_precision_and_recall_on_the_bench_series():
    """The bench's synthetic series (fixed seed): spikes, dips and level shifts found, Black Friday and December
    not flagged, as bench/anomalies.py prints it."""
    from bench import anomalies as bench

    values, injected, peaks = bench.synthetic(7, end=dt.date(2026, 12, 31))
    last = max(values)
    days = [last - dt.timedelta(days=n) for n in range(364, -1, -1)]
    result = bench.score(bench.judge(values, method="auto", k=anomalies.K, days=days), injected, peaks)
    assert result["precision"] >= 0.8
    assert result["recall"] >= 0.8
    assert result["peaks"] == 0
