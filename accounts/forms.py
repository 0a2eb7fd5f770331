from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

# The longest login there is: an e-mail address (a username is at most 150 characters).
LOGIN_MAX_LENGTH = 254


class LoginForm(AuthenticationForm):
    """Login with a username or an e-mail address."""

    username = forms.CharField(
        label=_("Username or e-mail"),
        # Longer text designates no account: refused here, before authentication and the lock-out count.
        max_length=LOGIN_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
