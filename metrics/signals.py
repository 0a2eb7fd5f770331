"""Signals of the metrics app: how upper layers (objectives) learn that KPI values changed, and how the
metrics app learns of the platform facts its adoption KPIs read (logins, memberships).

metrics never imports objectives; objectives connects a receiver in its AppConfig.ready().
accounts never imports metrics; metrics connects the receivers below in its AppConfig.ready().
"""

from django.dispatch import Signal

# Sent after the transaction that stored new KPI values commits, with keyword arguments
# kpi_ids (list[int]), team_ids (list[int]), granularities (list[str]),
# start (date) and end (date, exclusive): the cells [start, end) were recomputed.
kpi_values_changed = Signal()


def login_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A new login makes the active-user rate of its user's teams stale for its day."""
    if created and not raw:
        from metrics.ingest import login_mark_dirty

        login_mark_dirty(user_id=instance.user_id, occurred_at=instance.occurred_at)


def membership_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    """A membership added, changed or removed changes its team's members and which team its user's logins
    count for."""
    if not raw:
        from metrics.ingest import membership_mark_dirty

        membership_mark_dirty(user_id=instance.user_id, team_id=instance.team_id, joined_at=instance.created_at)
