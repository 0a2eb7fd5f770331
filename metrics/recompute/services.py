"""The recompute: KPI values from the activity, for all teams and periods at once, or only for the cells
that dirty marks say are stale; after the commit, the `kpi_values_changed` signal.

The admin, management commands and Celery tasks call these functions; they hold the rules of
which cells a change makes stale, so that no view or task has to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min, OuterRef, Subquery

from accounts.models import Team
from accounts.selectors import team_ids_with_ancestors, team_ids_with_descendants
from metrics.engine.compute import KpiPlan, kpis_compute
from metrics.engine.fold import CellFold
from metrics.engine.hierarchy import team_closure_sync
from metrics.engine.measures import Binding
from metrics.engine.periods import (
    GRANULARITIES,
    Granularity,
    local_date,
    period_end,
    period_floor,
    period_shift,
    period_starts,
    today_local,
)
from metrics.engine.rollup import FINER
from metrics.engine.shares import NESTED, REACHING, share_kind
from metrics.engine.sources import KIND_OF_MODEL, SOURCES, resolve_path
from metrics.engine.store import kpi_values_store
from metrics.kpis.services import KpiDefinitionError
from metrics.models import KpiDefinition, KpiMeasure, KpiValue
from metrics.recompute.marks import (
    DIRTY_BATCH_SIZE,
    DIRTY_BATCH_TEAMS,
    FULL_RECOMPUTE_CLAIM,
    ClaimedMark,
    dirty_marks_claim,
    dirty_marks_claimed,
    dirty_marks_release,
    dirty_marks_widen,
)
from metrics.recompute.signals import kpi_values_changed

# Session advisory lock key held (shared) by every recompute of everything, or of some KPIs / teams ("kpif").
FULL_RUN_LOCK_KEY = 0x6B706966

# Sort memory of the engine's transactions on PostgreSQL (SET LOCAL work_mem).
ENGINE_WORK_MEM = "64MB"


# Cells (KPI × team × period, segments aside) computed and held in memory at once by a recompute: 200 teams
# then recompute 90 days at a time. At 10,000,000 records the 55 KPIs' 90 days are 5.1 million rows with their
# segments, and the process peaks at 4.6 GB; computed ahead (PARALLEL_VENDORS), in half chunks, at 2.9 GB, and at
# 2.4 GB since rows share one string per segment (bench/recompute.py --once over every granularity).
CHUNK_CELLS = 1_000_000

# Databases on which a recompute of several granularities adds the longer periods up from the shorter ones it
# has just computed (metrics.engine.fold), measured with bench/recompute.py and the same cells compared:
# SQLite, 100,000 records, one call over every granularity: 51–52 s → 41–42 s, and with means and medians
# folded too 33–39 s → 25 s. PostgreSQL, 100,000 records and 50 teams: 133 s → 208 s, its grouped queries
# costing less than adding millions of day cells up in Python.
FOLD_VENDORS = {"sqlite"}

# Databases on which a recompute of everything computes its chunks two at a time, each in a thread of its own
# on its own connection, while the caller stores the chunk before (compute_chunks_ahead): one chunk's grouped
# queries run in the database while the other's cells are built in Python. Measured with bench/recompute.py
# --once, days at 10,000,000 records × 200 teams: 1,072 s → 674 s (hand-written SQL 275 s and 272 s: 3.90× →
# 2.48×), the same 33,217,320 cells. SQLite is left out: one writing transaction at a time.
PARALLEL_VENDORS = {"postgresql"}
COMPUTE_THREADS = 2

# Dirty-mark jobs of one granularity whose ends differ by at most this many periods are merged.
JOB_MERGE_PERIODS = 2


@dataclass
class RecomputeResult:
    """What a recompute stored: how many values, for which KPIs, teams, granularities and dates."""

    values_written: int = 0
    kpi_ids: list[int] = dataclasses.field(default_factory=list)
    team_ids: list[int] = dataclasses.field(default_factory=list)
    granularities: list[str] = dataclasses.field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None

    def merge(self, other: RecomputeResult) -> None:
        self.values_written += other.values_written
        self.kpi_ids = sorted(set(self.kpi_ids) | set(other.kpi_ids))
        self.team_ids = sorted(set(self.team_ids) | set(other.team_ids))
        self.granularities = [g for g in GRANULARITIES if g in set(self.granularities) | set(other.granularities)]
        starts = [d for d in (self.start, other.start) if d is not None]
        ends = [d for d in (self.end, other.end) if d is not None]
        self.start = min(starts) if starts else None
        self.end = max(ends) if ends else None


def engine_session_tune() -> None:
    """Give the engine's grouped queries enough sort memory for the current transaction (PostgreSQL):
    distinct counts and medians sort their groups, which spill to disk with the 4 MB default."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [ENGINE_WORK_MEM])


@contextmanager
def engine_transaction():
    """A transaction of this thread's connection with the engine's sort memory (engine_session_tune)."""
    with transaction.atomic():
        engine_session_tune()
        yield


def period_chunks(periods: Sequence[dt.date], *, cells_per_period: int) -> list[Sequence[dt.date]]:
    """The periods in consecutive chunks of at most CHUNK_CELLS (KPI, team) cells, segments aside (at least one
    period each): the engine holds every value of a chunk in memory before storing it, so days over years
    for hundreds of teams are computed a few months at a time. Each chunk is an ordinary window of the engine,
    like an incremental recompute's: `prev()` and the shares of longer periods read before its start."""
    size = max(1, CHUNK_CELLS // max(1, cells_per_period))
    return [periods[i : i + size] for i in range(0, len(periods), size)]


def _on_own_connection(compute: Callable[[], list]) -> list:
    """Run `compute` (reading only committed activity) in a read transaction of this thread's own connection,
    tuned as the engine's, and close that connection after."""
    try:
        with engine_transaction():
            return compute()
    finally:
        connection.close()


def compute_chunks_ahead(jobs: Sequence[Callable[[], list]], *, parallel: bool) -> Iterator[list]:
    """Each job's rows, in order. In `parallel`, COMPUTE_THREADS jobs run ahead in threads, on connections of
    their own, while the caller stores the rows of the job before (at most COMPUTE_THREADS + 1 chunks held)."""
    if not parallel or len(jobs) < 2:
        for job in jobs:
            yield job()
        return
    with ThreadPoolExecutor(max_workers=COMPUTE_THREADS, thread_name_prefix="recompute") as pool:
        pending: deque[Future] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(_on_own_connection, job))
                if len(pending) >= COMPUTE_THREADS:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the caller failed (or a job did): the chunks not started are not computed for nothing
            for future in pending:
                future.cancel()


def kpi_values_recompute(
    *,
    start: dt.date,
    end: dt.date,
    kpi_ids: Iterable[int] | None = None,
    team_ids: Iterable[int] | None = None,
    granularities: Sequence[str] = GRANULARITIES,
    notify: bool = True,
    incremental: bool = False,
    with_ancestors: bool = True,
    changed_kinds: Iterable[str] | None = None,
) -> RecomputeResult:
    """Recompute and store the active KPIs (all, or `kpi_ids`) for these teams and their ancestors (all teams
    when None), for every period of each granularity meeting the dates [start, end).

    `with_ancestors=False`: only these teams (the dirty-mark recompute claims ancestors through their own marks).
    `incremental`: the stored cells of shorter periods are up to date (the dirty-mark recompute has just
    recomputed the changed ones), so decomposable measures of weeks, months, quarters and years are
    combined from them instead of read again from the records (metrics.engine.rollup); with `changed_kinds`, the
    record kinds changed since, the measures reading none of them are read from the stored cells where they can.
    After commit, `kpi_values_changed` is sent with what was recomputed.
    """
    team_closure_sync()
    kpis = KpiDefinition.objects.filter(active=True).prefetch_related("measures")
    if kpi_ids is not None:
        kpis = kpis.filter(pk__in=list(kpi_ids))
    plans = [KpiPlan.of(kpi) for kpi in kpis]
    if team_ids is None:
        teams = sorted(Team.objects.values_list("id", flat=True))
    else:
        teams = sorted(team_ids_with_ancestors(team_ids) if with_ancestors else set(team_ids))
    members = None if team_ids is None else team_ids_with_descendants(teams)
    # Shortest first, whatever the order asked: a longer granularity is built from the shorter ones just stored.
    granularities = [granularity for granularity in GRANULARITIES if granularity in set(granularities)]
    result = RecomputeResult(kpi_ids=sorted(p.kpi_id for p in plans), team_ids=teams)
    if not plans or not teams or end <= start:
        return result
    # A recompute of several granularities adds the longer periods up from the shorter ones it has just
    # computed, for the measures whose records all lie in the days it computes.
    fold = None
    if not incremental and len(granularities) > 1 and connection.vendor in FOLD_VENDORS:
        fold = CellFold(outside=event_dates_outside(start, end))
    # Chunks computed ahead on other connections read the activity only, as committed: not when the engine reads
    # stored cells (incremental), folds what it computed, or runs inside a caller's uncommitted transaction.
    changed = None if changed_kinds is None else frozenset(changed_kinds)
    parallel = (
        connection.vendor in PARALLEL_VENDORS
        and not incremental
        and fold is None
        and changed_kinds is None
        and not connection.in_atomic_block
    )
    for granularity in granularities:
        periods = period_starts(start=start, end=end, granularity=granularity)
        finer = FINER.get(granularity) if incremental else None
        # In parallel, chunks of 1/COMPUTE_THREADS the size: about as much held in memory as one chunk at a time.
        share = COMPUTE_THREADS if parallel else 1
        chunks = period_chunks(periods, cells_per_period=len(plans) * len(teams) * share)
        jobs = [
            functools.partial(
                kpis_compute,
                plans=plans,
                team_ids=teams,
                granularity=granularity,
                start=max(start, chunk[0]),
                end=min(end, period_end(chunk[-1], granularity)),
                member_ids=members,
                finer=finer,
                fold=fold,
                changed_kinds=changed,
            )
            for chunk in chunks
        ]
        # One transaction per granularity; its periods computed and stored by chunks, in bounded memory.
        with engine_transaction():
            for chunk, rows in zip(chunks, compute_chunks_ahead(jobs, parallel=parallel), strict=True):
                result.values_written += kpi_values_store(
                    rows=rows, kpi_ids=result.kpi_ids, team_ids=teams, granularity=granularity, periods=chunk
                )
                del rows
        if fold is not None:
            fold.complete(granularity)
        result.granularities.append(granularity)
        first, last = periods[0], period_end(periods[-1], granularity)
        result.start = first if result.start is None else min(result.start, first)
        result.end = last if result.end is None else max(result.end, last)
    if notify:
        kpi_values_changed_notify(result)
    return result


def kpi_values_changed_notify(result: RecomputeResult) -> None:
    """Tell upper layers (objectives) which cells changed, once the values are committed."""
    if not result.values_written:
        return
    payload = {
        "kpi_ids": list(result.kpi_ids),
        "team_ids": list(result.team_ids),
        "granularities": list(result.granularities),
        "start": result.start,
        "end": result.end,
    }
    transaction.on_commit(lambda: kpi_values_changed.send(sender=KpiValue, **payload))


def activity_earliest_date() -> dt.date | None:
    """The earliest local date any active KPI reads (one aggregate query per record source)."""
    earliest = [first for first, _last in _date_bounds(lambda spec: spec.date_field or spec.active_from).values()]
    return min(earliest) if earliest else None


def event_dates_outside(start: dt.date, end: dt.date) -> frozenset[tuple[type, str]]:
    """The (model, date field) of the active KPIs' event measures with some record dated outside [start, end)
    (one aggregate query per record source)."""
    bounds = _date_bounds(lambda spec: spec.date_field if spec.binding == Binding.EVENT else "")
    return frozenset(path for path, (first, last) in bounds.items() if first < start or last >= end)


def _date_bounds(date_of) -> dict[tuple[type, str], tuple[dt.date, dt.date]]:
    """The local dates of the first and last record of the date field that `date_of(spec)` names for each active
    measure ('': none), per (model, field); fields without records are left out."""
    paths: dict[type, set[str]] = {}
    for measure in KpiMeasure.objects.filter(kpi__active=True):
        spec = measure.spec
        path = date_of(spec)
        if spec.source in SOURCES and path:
            paths.setdefault(spec.model, set()).add(path)
    bounds: dict[tuple[type, str], tuple[dt.date, dt.date]] = {}
    for model, fields in paths.items():
        ordered = sorted(fields)
        aggregates = {f"min{i}": Min(f) for i, f in enumerate(ordered)} | {
            f"max{i}": Max(f) for i, f in enumerate(ordered)
        }
        found = model._default_manager.aggregate(**aggregates)
        for i, field in enumerate(ordered):
            first, last = found[f"min{i}"], found[f"max{i}"]
            if first is None:
                continue
            if isinstance(first, dt.datetime):
                first, last = local_date(first), local_date(last)
            bounds[(model, field)] = (first, last)
    return bounds


def kpi_values_recompute_all(
    *,
    since: dt.date | None = None,
    kpi_codes: Sequence[str] | None = None,
    team_slugs: Sequence[str] | None = None,
    granularities: Sequence[str] = GRANULARITIES,
) -> RecomputeResult:
    """Recompute everything (or these KPIs / teams) from `since` (default: the earliest activity) to today."""
    kpi_ids = None
    if kpi_codes:
        found = dict(KpiDefinition.objects.filter(code__in=kpi_codes).values_list("code", "pk"))
        unknown = sorted(set(kpi_codes) - set(found))
        if unknown:
            raise KpiDefinitionError(f"Unknown KPI code(s): {', '.join(unknown)}.")
        kpi_ids = list(found.values())
    team_ids = None
    if team_slugs:
        found_teams = dict(Team.objects.filter(slug__in=team_slugs).values_list("slug", "pk"))
        unknown = sorted(set(team_slugs) - set(found_teams))
        if unknown:
            raise KpiDefinitionError(f"Unknown team(s): {', '.join(unknown)}.")
        # A team's values include its sub-teams' facts, and its ancestors' include its own.
        team_ids = team_ids_with_descendants(found_teams.values())
    everything = kpi_ids is None and team_ids is None and since is None and set(granularities) == set(GRANULARITIES)
    # The marks already written are covered by a recompute of everything that also spans them: the recompute
    # starts at the earliest of the activity and the marks (a mark may start before the earliest record left,
    # where records were deleted) and releases them at the end (unless bumped meanwhile), so the worker finds
    # nothing left to do after `make run`'s `recompute_kpis --sync` or the nightly run.
    claimed = dirty_marks_claim(limit=FULL_RECOMPUTE_CLAIM) if everything else []
    starts = [day for day in (since or activity_earliest_date(), *(mark.period_start for mark in claimed)) if day]
    if not starts:
        return RecomputeResult()
    start = min(starts)
    end = max(today_local() + dt.timedelta(days=1), start + dt.timedelta(days=1))
    with full_run_flag():
        result = kpi_values_recompute(
            start=start, end=end, kpi_ids=kpi_ids, team_ids=team_ids, granularities=granularities
        )
    dirty_marks_release(marks=[mark for mark in claimed if mark.period_end <= end])
    return result


@contextmanager
def full_run_flag():
    """Say, for as long as a long recompute runs, that one does (a shared advisory lock, PostgreSQL).

    Its values come from reads made along the way: a cell it writes may be older than the one a dirty-mark
    recompute has just written. The dirty-mark recompute therefore keeps its marks while one runs
    (`full_run_in_progress`), and computes them again once it is over.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock_shared(%s)", [FULL_RUN_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [FULL_RUN_LOCK_KEY])


def full_run_in_progress() -> bool:
    """Whether a recompute of everything (or of some KPIs / teams) is running in any process."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        # A bigint key below 2^32 shows as classid 0, objid = key, objsubid 1; pg_locks lists every database's.
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s "
            "AND objsubid = 1 AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            [FULL_RUN_LOCK_KEY],
        )
        return bool(cursor.fetchone()[0])


@dataclass
class DirtyRecomputeResult:
    """Outcome of a dirty-mark recompute; `busy` when marks were left because other workers held their teams.
    `claimed`: (mark id, generation) of each stored mark this run recomputed (each is recomputed by one run)."""

    busy: bool = False
    marks_claimed: int = 0
    marks_released: int = 0
    values_written: int = 0
    marks_kept: int = 0  # computed, but kept for after the recompute of everything running meanwhile
    claimed: list[tuple[int, int]] = dataclasses.field(default_factory=list)


def kpi_plan_record_kinds(plan: KpiPlan) -> frozenset[str]:
    """Record kinds whose changes can change a KPI: its measures' sources, related records read by
    filters or values, and records its segment dimensions reach (e.g. an order's customer segment)."""
    kinds: set[str] = set()
    for spec in plan.measures.values():
        kinds |= spec.record_kinds()
        for dimension in plan.segments:
            path = spec.record_source.dimensions.get(dimension)
            if path:
                _, crossed = resolve_path(spec.model, path)
                kinds.update(KIND_OF_MODEL[model] for model in crossed if model in KIND_OF_MODEL)
    return frozenset(kinds)


@dataclass(frozen=True)
class RecomputeJob:
    granularity: str
    start: dt.date
    end: dt.date
    kpi_ids: frozenset[int]
    team_ids: frozenset[int]


def _last_stored_periods(granularities: Iterable[str], kpi_ids: Sequence[int]) -> dict[str, dt.date]:
    """The latest period stored per granularity for these KPIs, of any team: the latest of each team's, read
    backwards on the (team, granularity, period) index. A grouped MAX reads every value of the KPIs instead —
    days included, in every dirty-mark round (1M × 200 with every granularity stored: 2–3 s against 0.02 s)."""
    found: dict[str, dt.date] = {}
    if not kpi_ids:
        return found
    for granularity in granularities:
        latest = (
            KpiValue.objects.filter(team=OuterRef("pk"), granularity=granularity, kpi_id__in=kpi_ids)
            .order_by("-period_start")
            .values("period_start")[:1]
        )
        last = Team.objects.annotate(last=Subquery(latest)).aggregate(latest=Max("last"))["latest"]
        if last is not None:
            found[granularity] = last
    return found


def dirty_marks_jobs(
    *, marks: Sequence[ClaimedMark], granularities: Sequence[str] = GRANULARITIES
) -> list[RecomputeJob]:
    """Plan the recompute of claimed marks: for each granularity, the KPIs reading the marked record kinds,
    over the marked dates expanded to whole periods — plus the following periods for KPIs using prev() (as far
    as periods have started or are stored),
    up to the current period for state measures (an interval end changes every later state), and for
    distinct counts the days and months up to the end of the year or today (their shares of longer periods).
    KPIs whose ends are within JOB_MERGE_PERIODS periods share one job (over the latest of those
    ends), and teams needing the same KPIs over the same periods are merged, so most measures are queried once.
    """
    kpis = list(KpiDefinition.objects.filter(active=True).prefetch_related("measures"))
    reads: dict[int, tuple[frozenset[str], int, bool, bool]] = {}
    for kpi in kpis:
        plan = KpiPlan.of(kpi)
        kinds = kpi_plan_record_kinds(plan)
        has_state = any(spec.binding == Binding.STATE for spec in plan.measures.values())
        reaching = any(share_kind(spec) == REACHING for spec in plan.measures.values())
        reads[kpi.pk] = (kinds, plan.formula.prev_depth, has_state, reaching)
    today = today_local()
    # The end of the last stored period holding shares, per granularity (future periods may be stored).
    shares_stored = {granularity: today for granularity in NESTED if granularity in granularities}
    last_stored = _last_stored_periods(shares_stored, [k for k, r in reads.items() if r[3]])
    for granularity, last in last_stored.items():
        shares_stored[granularity] = period_end(last, granularity)
    # prev() reaches into the following periods: those already started, or stored (dated records, an earlier
    # run), as far as that; a period that has not begun and holds nothing is not written (its growth would read
    # -100 %), it is computed when its first record arrives.
    prev_reach = {granularity: period_shift(today, granularity, 1) for granularity in granularities}
    prev_stored = _last_stored_periods(granularities, [k for k, r in reads.items() if r[1]])
    for granularity, last in prev_stored.items():
        prev_reach[granularity] = max(prev_reach[granularity], period_end(last, granularity))
    # (granularity, start, end) → the KPIs to recompute for each team over those dates.
    jobs: dict[tuple[str, dt.date, dt.date], dict[int, set[int]]] = {}
    for mark in marks:
        readers = [(kpi_id, depth, has_state, reaching) for kpi_id, (kinds, depth, has_state, reaching)
                   in reads.items() if mark.record_kind in kinds]  # fmt: skip
        last_day = max(mark.period_end - dt.timedelta(days=1), mark.period_start)
        # A distinct count's shares of a year in the later days and months move with a change: recompute them to
        # the end of the year, as far as they are stored (or today); those not stored are read when needed.
        year_end = period_shift(period_floor(last_day, Granularity.YEAR), Granularity.YEAR, 1)
        for granularity in granularities:
            start = period_floor(mark.period_start, granularity)
            ends = {
                kpi_id: max(
                    min(period_shift(last_day, granularity, 1 + depth), prev_reach[granularity]),
                    period_shift(last_day, granularity, 1),
                    period_shift(today, granularity, 1) if has_state else start,
                    min(year_end, max(period_shift(today, granularity, 1), shares_stored[granularity]))
                    if reaching and granularity in shares_stored
                    else start,
                )
                for kpi_id, depth, has_state, reaching in readers
            }
            if not ends:
                continue
            # One job for KPIs whose ends are close (a query per measure, not per KPI group); a state
            # KPI reaching far beyond the marked dates gets its own, so the others stay narrow.
            near = min(ends.values())
            for kpi_id, end in ends.items():
                job_end = max(e for e in ends.values() if e <= period_shift(near, granularity, JOB_MERGE_PERIODS))
                key = (granularity, start, job_end if end <= job_end else end)
                jobs.setdefault(key, {}).setdefault(mark.team_id, set()).add(kpi_id)
    # One job per set of KPIs: teams needing the same KPIs over the same dates share it, and no team gets KPIs
    # that only another team's marks call for (what is stored does not depend on which marks share a round).
    planned = []
    for (granularity, start, end), kpis_of_team in sorted(jobs.items()):
        teams_of_kpis: dict[frozenset[int], set[int]] = {}
        for team_id, kpi_set in kpis_of_team.items():
            teams_of_kpis.setdefault(frozenset(kpi_set), set()).add(team_id)
        for kpi_set, team_set in sorted(teams_of_kpis.items(), key=lambda item: sorted(item[1])):
            planned.append(RecomputeJob(granularity, start, end, kpi_set, frozenset(team_set)))
    return planned


def dirty_marks_recompute(
    *, limit: int = DIRTY_BATCH_SIZE, teams: int = DIRTY_BATCH_TEAMS, max_rounds: int = 50
) -> DirtyRecomputeResult:
    """Claim rounds of dirty marks, recompute the KPI values they make stale, then release the marks.

    Idempotent, and several workers share a backlog: each round claims whole teams that no other worker
    holds (metrics.recompute.marks.dirty_marks_claimed), and a mark is deleted only if no ingestion bumped
    it since it was claimed. Loops while it can claim marks (those written during the run included), up to
    `max_rounds` rounds.
    """
    result = DirtyRecomputeResult()
    kept: set[int] = set()
    for _ in range(max_rounds):
        # A recompute of everything running at the start or the end of a round may write, after this round, values
        # read before this round's changes: the round's marks are kept, to be computed again once it is over.
        full_run = full_run_in_progress()
        with dirty_marks_claimed(limit=limit, teams=teams, done=kept) as (marks, busy):
            if not marks:
                result.busy = busy
                break
            stored = [mark for mark in marks if mark.id is not None]
            result.marks_claimed += len(stored)
            result.claimed += [(mark.id, mark.generation) for mark in stored]
            # Shorter periods first: weeks and months are combined from the days just recomputed,
            # quarters and years from the months.
            jobs = sorted(dirty_marks_jobs(marks=marks), key=lambda job: GRANULARITIES.index(job.granularity))
            round_done = RecomputeResult()
            for job in jobs:
                done = kpi_values_recompute(
                    start=job.start,
                    end=job.end,
                    kpi_ids=job.kpi_ids,
                    team_ids=job.team_ids,
                    granularities=[job.granularity],
                    notify=False,
                    incremental=True,
                    with_ancestors=False,
                    changed_kinds={mark.record_kind for mark in marks if mark.team_id in job.team_ids},
                )
                round_done.merge(done)
            result.values_written += round_done.values_written
            # One notice per round, not per job: the objectives and alerts behind it are evaluated once.
            kpi_values_changed_notify(round_done)
            if full_run or full_run_in_progress():
                kept |= {mark.team_id for mark in marks}
                result.marks_kept += len(stored)
                # The ancestors computed with these teams are kept too: their ranges become stored marks.
                covered = {(m.team_id, m.record_kind): (m.period_start, m.period_end) for m in marks if m.id is None}
                with transaction.atomic():
                    dirty_marks_widen(ranges=covered)
                continue
            result.marks_released += dirty_marks_release(marks=stored)
    return result
