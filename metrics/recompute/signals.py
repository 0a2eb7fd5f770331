"""The signal by which upper layers (objectives) learn that KPI values changed.

metrics never imports objectives: objectives connects its receiver in its AppConfig.ready().
"""

from django.dispatch import Signal

# Sent after the transaction that stored new KPI values commits, with keyword arguments
# kpi_ids (list[int]), team_ids (list[int]), granularities (list[str]),
# start (date) and end (date, exclusive): the cells [start, end) were recomputed.
kpi_values_changed = Signal()
