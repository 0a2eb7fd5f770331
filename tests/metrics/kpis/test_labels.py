"""Stored codes in words (metrics.kpis.labels): known channels, segments and stages in French and English, a
readable fallback for unknown codes, stored segments « dimension=value », and people by name."""

import pytest
from django.utils import translation

from metrics.kpis import labels
from metrics.models import Campaign


@pytest.mark.parametrize(
    ("dimension", "code", "french", "english"),
    [
        ("channel", "paid_search", "Recherche payante", "Paid search"),
        ("channel", "organic", "Référencement naturel", "Organic search"),
        ("channel", "email", "E-mail", "E-mail"),
        ("channel", "social", "Réseaux sociaux", "Social networks"),
        ("channel", "referral", "Recommandation", "Referral"),
        ("channel", "direct", "Accès direct", "Direct"),
        ("source", "organic", "Référencement naturel", "Organic search"),  # a traffic source is a channel
        ("customer_channel", "paid_search", "Recherche payante", "Paid search"),
        ("segment", "smb", "PME", "SMB"),
        ("customer_segment", "mid_market", "ETI", "Mid-market"),
        ("segment", "enterprise", "Grands comptes", "Enterprise"),
        ("stage", "prospecting", "Prospection", "Prospecting"),
        ("stage", "negotiation", "Négociation", "Negotiation"),
        ("stage", "closed_won", "Gagnée", "Won"),
        ("stage", "lost", "Perdue", "Lost"),
        ("kind", "complaint", "Réclamation", "Complaint"),  # a ticket's kind: the model's choices
        ("touchpoint", "after_purchase", "Après un achat", "After a purchase"),
        ("role", "manager", "Responsable", "Manager"),
    ],
)
def test_known_codes_in_both_languages(dimension, code, french, english):
    with translation.override("fr"):
        assert labels.code_label(dimension, code) == french
    with translation.override("en"):
        assert labels.code_label(dimension, code) == english


def test_an_unknown_code_reads_without_underscores_capitalised():
    with translation.override("fr"):
        assert labels.code_label("channel", "trade_show_2026") == "Trade show 2026"
        assert labels.code_label("stage", "contract_sent") == "Contract sent"
        # a dimension of the admin's own: still readable, a known channel still named
        assert labels.code_label("region", "ile_de_france") == "Ile de france"
        assert labels.code_label("region", "paid_search") == "Recherche payante"
        assert labels.code_label("channel", "") == "(non renseigné)"


def test_dimensions_in_words():
    with translation.override("fr"):
        assert [labels.dimension_label(d) for d in ("channel", "segment", "owner", "stage", "sales_region")] == [
            "Canal",
            "Segment de clientèle",
            "Responsable",
            "Étape",
            "Sales region",
        ]
    with translation.override("en"):
        assert labels.dimension_label("channel") == "Channel"


def test_segment_label():
    with translation.override("fr"):
        assert labels.segment_label("channel=email") == "Canal : E-mail"
        assert labels.segment_label("segment=mid_market") == "Segment de clientèle : ETI"
        assert labels.segment_label("stage=closed_won") == "Étape : Gagnée"
        assert labels.segment_label("channel=") == "Canal : (non renseigné)"
        assert labels.segment_label("") == ""
        assert labels.segment_value_label("channel=paid_search") == "Recherche payante"
    with translation.override("en"):
        assert labels.segment_label("channel=email") == "Channel: E-mail"
        assert labels.segment_label("segment=smb") == "Customer segment: SMB"


def test_owners_are_people_and_campaigns_have_names(db, make_user, team_a):
    # given a platform user with a full name, and a named campaign
    claire = make_user("claire.martin", team=team_a)
    claire.first_name, claire.last_name = "Claire", "Martine"
    claire.save()
    Campaign.objects.create(team=team_a, external_id="CA-0001", name="Soldes d’hiver", channel="email")
    segments = ["owner=claire.martin", "owner=jean.dupont", "campaign=CA-0001", "channel=email"]

    # when their names are read (two queries: people, campaigns)
    names = labels.value_names(segments)

    # then an owner who is a user is named by the full name, another from the CRM's user name; a campaign by name
    with translation.override("fr"):
        assert [labels.segment_label(s, names=names) for s in segments] == [
            "Responsable : Claire Martine",
            "Responsable : Jean Dupont",
            "Campagne : Soldes d’hiver",
            "Canal : E-mail",
        ]
    assert labels.value_names(["channel=email"]) == {}  # no person nor campaign: no query needed


def test_no_segment_names_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert labels.value_names(["channel=email", "segment=smb", ""]) == {}
