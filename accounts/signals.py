"""Signal receivers, wired in AccountsConfig.ready()."""

from accounts.services import login_event_record


def record_login(sender, request, user, **kwargs) -> None:
    """Record every successful login (the raw fact of the CRM-adoption KPI)."""
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    login_event_record(user=user, ip_address=ip)
