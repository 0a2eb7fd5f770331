"""Template filters writing stored codes and people in words, in the active language (metrics.kpis.labels):

{{ "paid_search"|channel }} Recherche payante · {{ "channel=email"|segment }} Canal : E-mail
{{ user|person }} Claire Martin · {{ "alert.firing"|webhook_event }} Alerte déclenchée
"""

from django import template

from metrics.kpis import labels
from objectives.models.notifications import event_label

register = template.Library()


@register.filter
def channel(code: str) -> str:
    """A channel code in words; empty stays empty."""
    return labels.channel_label(code) if code else ""


@register.filter
def segment(code: str, names=None) -> str:
    """A stored segment « dimension=value » in words; `names` (metrics.kpis.labels.value_names) names the owners
    and campaigns; empty stays empty."""
    return labels.segment_label(code, names=names) if code else ""


@register.filter
def person(user) -> str:
    """A user by full name, else by user name; empty for nobody."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


register.filter("webhook_event", event_label)
