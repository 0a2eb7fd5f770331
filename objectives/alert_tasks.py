"""Celery tasks of alert evaluation (being built)."""
