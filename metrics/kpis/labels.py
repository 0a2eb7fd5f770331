"""Words for the codes stored in activity records and KPI segments, in the active language.

CRM fields such as a lead's channel, a customer's segment or a deal's stage are free text: the CRM's own codes
(« paid_search », « mid_market », « closed_won »). The tables below name the usual ones, as data; a code they
do not know is shown readable (« web_form » reads « Web form »), never as stored. Dimensions whose field has
choices (a ticket's kind, a member's role) take the labels of those choices. Owners are people: pages that
list them read their full names in one query (`people_names`); without it « claire.martin » reads
« Claire Martin ».

A KPI segment is stored as « dimension=value »: `segment_label("channel=email")` is « Canal : E-mail ».
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import User
from accounts.roles import Role
from metrics.models import Campaign, Deal, DealStatus, OrderStatus, SurveyKind, TicketKind

# --------------------------------------------------------------------------- dimensions

# The dimensions the catalogue breaks KPIs down by (metrics.engine.sources), by name.
DIMENSIONS: dict[str, str | Promise] = {
    "channel": gettext_lazy("Channel"),
    "acquisition_channel": gettext_lazy("Acquisition channel"),
    "segment": gettext_lazy("Customer segment"),
    "customer_segment": gettext_lazy("Customer segment"),
    "customer_channel": gettext_lazy("Customer's acquisition channel"),
    "owner": gettext_lazy("Owner"),
    "source": gettext_lazy("Source"),
    "campaign": gettext_lazy("Campaign"),
    "kind": gettext_lazy("Kind"),
    "stage": gettext_lazy("Stage"),
    "status": gettext_lazy("Status"),
    "touchpoint": gettext_lazy("Touchpoint"),
    "survey": gettext_lazy("Survey"),
    "role": gettext_lazy("Role"),
}

# --------------------------------------------------------------------------- values of free-text fields

# Channels and traffic sources: how a lead, a customer, an order, a ticket or some spend came.
CHANNELS: dict[str, str | Promise] = {
    "email": pgettext_lazy("channel", "E-mail"),
    "organic": pgettext_lazy("channel", "Organic search"),
    "seo": pgettext_lazy("channel", "Organic search"),
    "paid_search": pgettext_lazy("channel", "Paid search"),
    "sea": pgettext_lazy("channel", "Paid search"),
    "paid": pgettext_lazy("channel", "Paid traffic"),
    "search_ads": pgettext_lazy("channel", "Search ads"),
    "social": pgettext_lazy("channel", "Social networks"),
    "social_ads": pgettext_lazy("channel", "Social ads"),
    "display": pgettext_lazy("channel", "Display ads"),
    "referral": pgettext_lazy("channel", "Referral"),
    "direct": pgettext_lazy("channel", "Direct"),
    "events": pgettext_lazy("channel", "Events"),
    "event": pgettext_lazy("channel", "Events"),
    "partners": pgettext_lazy("channel", "Partners"),
    "partner": pgettext_lazy("channel", "Partners"),
    "affiliate": pgettext_lazy("channel", "Affiliation"),
    "web": pgettext_lazy("channel", "Website"),
    "website": pgettext_lazy("channel", "Website"),
    "web_form": pgettext_lazy("channel", "Web form"),
    "shop": pgettext_lazy("channel", "Shop"),
    "store": pgettext_lazy("channel", "Shop"),
    "phone": pgettext_lazy("channel", "Phone"),
    "chat": pgettext_lazy("channel", "Chat"),
    "sms": pgettext_lazy("channel", "SMS"),
    "marketplace": pgettext_lazy("channel", "Marketplace"),
    "outbound": pgettext_lazy("channel", "Outbound prospecting"),
    "crm": pgettext_lazy("channel", "CRM"),
    "tools": pgettext_lazy("channel", "Tools"),
    "other": pgettext_lazy("channel", "Other"),
}

# Customer segments.
SEGMENTS: dict[str, str | Promise] = {
    "smb": pgettext_lazy("customer segment", "SMB"),
    "mid_market": pgettext_lazy("customer segment", "Mid-market"),
    "enterprise": pgettext_lazy("customer segment", "Enterprise"),
    "consumer": pgettext_lazy("customer segment", "Consumers"),
    "b2c": pgettext_lazy("customer segment", "Consumers"),
    "public_sector": pgettext_lazy("customer segment", "Public sector"),
    "startup": pgettext_lazy("customer segment", "Start-ups"),
}

# The stages of a deal in funnel order (those of most CRMs' default pipeline), then the short codes of the
# closed ones.
DEAL_STAGES: tuple[tuple[str, str | Promise], ...] = (
    ("prospecting", pgettext_lazy("deal stage", "Prospecting")),
    ("qualification", pgettext_lazy("deal stage", "Qualification")),
    ("proposal", pgettext_lazy("deal stage", "Proposal")),
    ("negotiation", pgettext_lazy("deal stage", "Negotiation")),
    ("closed_won", pgettext_lazy("deal stage", "Won")),
    ("closed_lost", pgettext_lazy("deal stage", "Lost")),
)


def deal_stages() -> tuple[tuple[str, str | Promise], ...]:
    """The deal stages in funnel order with their labels: the Deal model's stage choices if it declares some,
    else `DEAL_STAGES`."""
    declared = Deal._meta.get_field("stage").choices
    return tuple(declared) if declared else DEAL_STAGES


STAGES: dict[str, str | Promise] = {
    **dict(DEAL_STAGES),
    "won": pgettext_lazy("deal stage", "Won"),
    "lost": pgettext_lazy("deal stage", "Lost"),
}

# When a survey was sent.
TOUCHPOINTS: dict[str, str | Promise] = {
    "after_purchase": pgettext_lazy("touchpoint", "After a purchase"),
    "after_support": pgettext_lazy("touchpoint", "After a support request"),
    "onboarding": pgettext_lazy("touchpoint", "Onboarding"),
    "quarterly": pgettext_lazy("touchpoint", "Quarterly survey"),
}

# Kinds of records with a `kind`: tickets (the model's choices) and interactions (free text).
KINDS: dict[str, str | Promise] = {
    **dict(TicketKind.choices),
    "email_open": pgettext_lazy("interaction", "E-mail opened"),
    "click": pgettext_lazy("interaction", "Click"),
    "visit": pgettext_lazy("interaction", "Visit"),
    "social": pgettext_lazy("interaction", "Social networks"),
    "loyalty": pgettext_lazy("interaction", "Loyalty programme"),
}

# The table of values of each dimension.
VALUES: dict[str, Mapping[str, str | Promise]] = {
    "channel": CHANNELS,
    "acquisition_channel": CHANNELS,
    "customer_channel": CHANNELS,
    "source": CHANNELS,
    "segment": SEGMENTS,
    "customer_segment": SEGMENTS,
    "stage": STAGES,
    "touchpoint": TOUCHPOINTS,
    "kind": KINDS,
    "status": {**dict(DealStatus.choices), **dict(OrderStatus.choices)},
    "survey": dict(SurveyKind.choices),
    "role": dict(Role.choices),
}
PEOPLE = ("owner",)
CAMPAIGNS = ("campaign",)


def readable(code: str) -> str:
    """An unknown code as people read it: underscores as spaces, capitalised (« web_form » → « Web form »)."""
    return capfirst(code.replace("_", " ").strip())


def person_readable(code: str) -> str:
    """A CRM user name no user of the platform has, as a name: « jean.dupont » → « Jean Dupont »."""
    if "@" in code or " " in code.strip():
        return code.strip()
    return " ".join(capfirst(part) for part in re.split(r"[._]+", code) if part) or code


def dimension_label(dimension: str) -> str:
    """A breakdown dimension in words: « channel » → « Canal »; an unknown one readable."""
    label = DIMENSIONS.get(dimension)
    return str(label) if label is not None else readable(dimension)


def code_label(dimension: str, code: str, *, names: Mapping[str, str] | None = None) -> str:
    """A value of a dimension in words: « paid_search » → « Recherche payante »; an empty one « (not set) ».

    `names`: the people's or campaigns' names read by `value_names` (an owner is otherwise written from the
    user name, a campaign by its id).
    """
    if not code:
        return _("(not set)")
    if names and code in names:
        return names[code]
    if dimension in PEOPLE:
        return person_readable(code)
    if dimension in CAMPAIGNS:
        return code
    label = VALUES.get(dimension, {}).get(code)
    if label is None and dimension not in VALUES:
        label = CHANNELS.get(code)  # a dimension of the admin's own: a channel code still reads as one
    return str(label) if label is not None else readable(code)


def channel_label(code: str) -> str:
    """A channel in words: « paid_search » → « Recherche payante »."""
    return code_label("channel", code)


def segment_parts(segment: str) -> tuple[str, str]:
    """A stored segment « dimension=value » as (dimension, value); a bare value has no dimension."""
    dimension, sep, value = segment.partition("=")
    return (dimension, value) if sep else ("", segment)


def segment_value_label(segment: str, *, names: Mapping[str, str] | None = None) -> str:
    """The value of a stored segment in words: « channel=email » → « E-mail »."""
    dimension, value = segment_parts(segment)
    return code_label(dimension, value, names=names)


def segment_label(segment: str, *, names: Mapping[str, str] | None = None) -> str:
    """A stored segment in words: « channel=email » → « Canal : E-mail »; empty for the whole team."""
    if not segment:
        return ""
    dimension, value = segment_parts(segment)
    if not dimension:
        return readable(value)
    return _("%(dimension)s: %(segment)s") % {
        "dimension": dimension_label(dimension),
        "segment": code_label(dimension, value, names=names),
    }


def people_names(usernames: Iterable[str]) -> dict[str, str]:
    """The full names of the platform users among these user names (user name → name); one query, none for
    no name."""
    wanted = {name for name in usernames if name}
    if not wanted:
        return {}
    users = User.objects.filter(username__in=wanted).only("username", "first_name", "last_name")
    return {user.username: user.get_full_name() or user.username for user in users}


def campaign_names(external_ids: Iterable[str]) -> dict[str, str]:
    """The names of the campaigns with these ids (id → name, those with a name); one query, none for no id."""
    wanted = {code for code in external_ids if code}
    if not wanted:
        return {}
    rows = Campaign.objects.filter(Q(external_id__in=wanted) & ~Q(name="")).values_list("external_id", "name")
    return dict(rows)


def value_names(segments: Iterable[str]) -> dict[str, str]:
    """The names of the people and campaigns among stored segments (value → name), for `segment_label` and
    `code_label`: at most two queries (owners, campaigns), none when no segment names one."""
    owners, campaigns = set(), set()
    for segment in segments:
        dimension, value = segment_parts(segment)
        if dimension in PEOPLE:
            owners.add(value)
        elif dimension in CAMPAIGNS:
            campaigns.add(value)
    return {**campaign_names(campaigns), **people_names(owners)}
