from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        # Models and receivers load once the app registry is ready, hence the imports here.
        # Logins and memberships live in accounts, which must not import metrics: listen to their saves.
        from accounts.models import LoginEvent, Membership, Team
        from metrics.recompute import receivers

        post_save.connect(receivers.login_saved, sender=LoginEvent, dispatch_uid="metrics-login-saved")
        post_save.connect(receivers.membership_changed, sender=Membership, dispatch_uid="metrics-membership-saved")
        post_delete.connect(receivers.membership_changed, sender=Membership, dispatch_uid="metrics-membership-deleted")
        post_save.connect(receivers.team_tree_changed, sender=Team, dispatch_uid="metrics-team-saved")
        post_delete.connect(receivers.team_tree_changed, sender=Team, dispatch_uid="metrics-team-deleted")
