"""Anomaly alerts: precision and recall of the expected band's methods (issue 18, item 4).

Usage:  .venv/bin/python bench/anomalies.py [--seed 7] [--ks 3,3.5,4,5]

No database: the series are built in memory and every day of their last year is judged as an anomaly rule
judges it (metrics.kpis.anomalies.expected_band on the days before it, the anomalies injected earlier
included, as a rule would see them).

- synthetic: 3 years of daily revenue (a growing level, a weekly pattern with quiet weekends, a December
  hump, Black Friday at 2.5 × a normal Friday every year, 6 % noise) with, in the last year, spikes
  (+45 to +90 %), dips (−40 to −60 %) and level shifts (−35 % or +40 % from one day on). Black Friday and
  December are in the previous years too: they are *not* anomalies.
- demo: the demo dataset's daily revenue (metrics.demo's order generator, 40 000 orders over two years,
  completed orders' amounts by day; no weekly pattern) with spikes and dips injected in its last 300 days.

A spike or a dip is found when its day is flagged; a level shift when one of its first 3 days is. Precision
counts as right any flag on an injected day or in the 14 days after a shift starts (the band takes a while to
follow a new level: flags there are not false alarms). `seasonal peak flagged` counts flags on Black Friday
and in December (should be 0). Methods: `auto` (what the rules use: STL, else the seasonal median),
`seasonal_median`, `zscore` (mean ± k σ of the last 8 weeks: the naïve reference). Goal: precision and recall
≥ 0.8 for the method and k the rules use (metrics.kpis.anomalies.K).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.throwaway import bench_environment  # noqa: E402

SHIFT_GRACE_DAYS = 14
SHIFT_FOUND_DAYS = 3


def _black_friday(year: int) -> dt.date:
    november = dt.date(year, 11, 1)
    first_friday = november + dt.timedelta(days=(4 - november.weekday()) % 7)
    return first_friday + dt.timedelta(weeks=3)


def synthetic(seed: int, *, end: dt.date) -> tuple[dict, dict, set]:
    """(values by day, injected anomalies by day → kind, seasonal peak days) over three years up to `end`."""
    rng = random.Random(seed)  # nosec B311 - deterministic bench data
    start = end - dt.timedelta(days=3 * 365)
    weekly = [1.0, 1.05, 1.05, 1.1, 1.2, 0.7, 0.6]  # Monday … Sunday
    values, peaks = {}, set()
    day = start
    while day <= end:
        years = (day - start).days / 365
        level = 10_000 * (1 + 0.15 * years)
        december = 1 + 0.3 * math.sin(math.pi * (day.day - 1) / 31) if day.month == 12 else 1.0
        factor = weekly[day.weekday()] * december
        if day == _black_friday(day.year):
            factor *= 2.5
        if day == _black_friday(day.year) or day.month == 12:
            peaks.add(day)
        values[day] = level * factor * (1 + rng.gauss(0, 0.06))
        day += dt.timedelta(days=1)
    injected = _inject(values, rng, first=end - dt.timedelta(days=330), last=end, avoid=peaks, shifts=3)
    return values, injected, peaks


def _noise(values: dict, first: dt.date) -> float:
    """The series' day-to-day noise, relative to its level (robust: 1.4826 × MAD of the week-on-week ratios / √2)."""
    import numpy as np

    days = sorted(d for d in values if d >= first)
    ratios = np.array(
        [values[d] / values[d - dt.timedelta(days=7)] - 1 for d in days if values.get(d - dt.timedelta(days=7))]
    )
    return float(1.4826 * np.median(np.abs(ratios - np.median(ratios))) / math.sqrt(2))


def _inject(values: dict, rng: random.Random, *, first: dt.date, last: dt.date, avoid: set, shifts: int) -> dict:
    """Spikes (+8 to +12 times the noise), dips (−6 to −9 times, at most −90 %), 6 of each, and level shifts
    (−35 % or +40 %), at least 2 weeks apart, outside the seasonal peaks."""
    cv = _noise(values, first - dt.timedelta(days=90))
    days = sorted(d for d in values if first <= d <= last - dt.timedelta(days=SHIFT_GRACE_DAYS) and d not in avoid)
    rng.shuffle(days)
    chosen: list[dt.date] = []
    for day in days:
        if all(abs((day - other).days) >= SHIFT_GRACE_DAYS for other in chosen):
            chosen.append(day)
        if len(chosen) == 12 + shifts:
            break
    kinds = ["spike"] * 6 + ["dip"] * 6 + ["level shift"] * shifts
    injected = {}
    for day, kind in zip(sorted(chosen, key=lambda _d: rng.random()), kinds, strict=True):
        injected[day] = kind
        if kind == "spike":
            values[day] *= 1 + rng.uniform(8, 12) * cv
        elif kind == "dip":
            values[day] *= max(0.1, 1 - rng.uniform(6, 9) * cv)
        else:
            factor = rng.choice([0.65, 1.4])
            for later in values:
                if later >= day:
                    values[later] *= factor
    return injected


def demo_revenue(seed: int, *, end: dt.date, inject: bool = True) -> tuple[dict, dict, set]:
    """The demo's daily revenue (completed orders' amounts by day) with spikes and dips in its last 300 days
    (none with `inject` off)."""
    from metrics import demo

    rng = random.Random(f"{seed}:ventes:orders")  # nosec B311 - the demo's own seeding
    clock = demo._Clock(rng, end)
    values: dict[dt.date, float] = defaultdict(float)
    for order in demo._orders(SimpleNamespace(pk=1, slug="ventes"), 40_000, rng, clock, []):
        if order["status"] == "completed":
            values[order["ordered_at"].date()] += float(order["amount"])
    first = min(values)
    values = {first + dt.timedelta(days=n): values.get(first + dt.timedelta(days=n), 0.0) for n in range(730)}
    if not inject:
        return values, {}, set()
    injected = _inject(values, random.Random(seed), first=max(values) - dt.timedelta(days=300), last=max(values),
                       avoid=set(), shifts=0)  # fmt: skip
    return values, injected, set()


def judge(values: dict, *, method: str, k: float, days: list[dt.date]) -> set[dt.date]:
    from metrics.kpis.anomalies import expected_band

    flagged = set()
    for day in days:
        band = expected_band(values, at=day, granularity="day", method=method, k=k)
        if band is not None and not band.contains(values[day]):
            flagged.add(day)
    return flagged


def score(flagged: set, injected: dict, peaks: set) -> dict:
    right = set(injected)
    found = defaultdict(lambda: [0, 0])
    for day, kind in injected.items():
        found[kind][1] += 1
        if kind == "level shift":
            window = {day + dt.timedelta(days=n) for n in range(SHIFT_GRACE_DAYS)}
            right |= window
            hit = any(day + dt.timedelta(days=n) in flagged for n in range(SHIFT_FOUND_DAYS))
        else:
            hit = day in flagged
        found[kind][0] += hit
    hits = sum(f[0] for f in found.values())
    total = sum(f[1] for f in found.values())
    return {
        "precision": len(flagged & right) / len(flagged) if flagged else 1.0,
        "recall": hits / total if total else 1.0,
        "by_kind": {kind: f"{f[0]}/{f[1]}" for kind, f in sorted(found.items())},
        "flags": len(flagged),
        "peaks": len(flagged & peaks),
    }


def run(seed: int, ks: list[float]) -> dict:
    end = dt.date(2026, 12, 31)
    datasets = {"synthetic": synthetic(seed, end=end), "demo revenue": demo_revenue(seed, end=end)}
    results = {}
    for name, (values, injected, peaks) in datasets.items():
        last = max(values)
        days = [last - dt.timedelta(days=n) for n in range(364 if name == "synthetic" else 300, -1, -1)]
        print(f"\n{name}: {len(days)} days judged, {len(injected)} anomalies injected")
        print(f"{'method':<16}{'k':>5}{'precision':>11}{'recall':>8}{'flags':>7}{'seasonal peak flagged':>23}  by kind")
        for method in ("auto", "seasonal_median", "zscore"):
            for k in ks:
                result = score(judge(values, method=method, k=k, days=days), injected, peaks)
                results[(name, method, k)] = result
                kinds = ", ".join(f"{kind} {hits}" for kind, hits in result["by_kind"].items())
                print(
                    f"{method:<16}{k:>5}{result['precision']:>11.2f}{result['recall']:>8.2f}{result['flags']:>7}"
                    f"{result['peaks']:>23}  {kinds}"
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ks", default="3,3.5,4")
    args = parser.parse_args()
    # Django for the demo's generator and the KPI calendar only: nothing is read from or written to the database.
    bench_environment(os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.gettempdir()}/bench_anomalies.sqlite3")
    import django

    django.setup()
    from metrics.kpis.anomalies import K

    started = time.perf_counter()
    results = run(args.seed, [float(k) for k in args.ks.split(",")])
    print(f"\nRules use method auto with k = {K} (metrics.kpis.anomalies.K); goal: precision and recall ≥ 0.8.")
    for name in ("synthetic", "demo revenue"):
        result = results.get((name, "auto", K))
        if result:
            print(f"  {name}: precision {result['precision']:.2f}, recall {result['recall']:.2f}, "
                  f"seasonal peaks flagged {result['peaks']}")  # fmt: skip
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
