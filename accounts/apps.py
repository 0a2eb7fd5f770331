from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and teams")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.signals import record_login

        user_logged_in.connect(record_login, dispatch_uid="accounts.record_login")
