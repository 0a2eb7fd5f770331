"""Fixtures for activity ingestion: API keys and a client that posts batches with one."""

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create


@pytest.fixture
def make_key(db):
    """make_key(team, "read,write") -> the plain key."""

    def make(team, scopes: str = "read,write", name: str = "crm") -> str:
        _api_key, key = api_key_create(team=team, name=name, scopes=scopes.split(","))
        return key

    return make


@pytest.fixture
def key_client(make_key):
    """key_client(team, scopes) -> an APIClient sending `Authorization: Api-Key …` and English messages."""

    def make(team, scopes: str = "read,write") -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_key(team, scopes)}", HTTP_ACCEPT_LANGUAGE="en")
        return client

    return make


@pytest.fixture
def catalogue(db):
    """The KPI catalogue loaded, and no recompute debounce left in the cache by an earlier test."""
    from django.core.cache import cache

    from metrics.kpis.services import kpi_catalogue_load

    kpi_catalogue_load()
    cache.clear()
