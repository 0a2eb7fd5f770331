"""Celery tasks delivering notifications, e-mails, webhooks and digests (being built)."""
