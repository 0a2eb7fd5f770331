"""The KPI computation engine: periods, formulas, record sources, measures as grouped queries.

Nothing here knows a KPI by its code: record kinds, aggregates and period bindings are
registries looked up by name, and a KPI is the data stored in KpiDefinition/KpiMeasure.
"""
