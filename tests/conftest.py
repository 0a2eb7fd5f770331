"""Shared fixtures: teams, users with roles, and API clients."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.utils import translation
from rest_framework.test import APIClient

from accounts.models import Team, User
from accounts.roles import Role
from accounts.services import membership_set, team_upsert, user_upsert

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's language: a request of an earlier test (LocaleMiddleware activates the
    language it negotiates and leaves it active in the thread) must not decide the language of the next one."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_caches():
    """Throttle counters live in the caches, which outlive a test: each test starts with them empty."""
    for alias in ("default", "shared"):
        caches[alias].clear()


@pytest.fixture
def make_team(db):
    def make(slug: str, *, name: str | None = None, kind: str = "sales", parent: Team | None = None) -> Team:
        return team_upsert(slug=slug, name=name or slug.title(), kind=kind, parent_slug=parent.slug if parent else None)

    return make


@pytest.fixture
def make_user(db):
    def make(
        username: str, *, team: Team | None = None, role: str = Role.MEMBER, staff: bool = False, language: str = "fr"
    ) -> User:
        user = user_upsert(
            username=username, email=f"{username}@example.test", password=PASSWORD, is_staff=staff, language=language
        )
        if team is not None:
            membership_set(user=user, team=team, role=role)
        return user

    return make


@pytest.fixture
def team_a(make_team) -> Team:
    return make_team("team-a", name="Équipe A")


@pytest.fixture
def team_b(make_team) -> Team:
    return make_team("team-b", name="Équipe B")


@pytest.fixture
def manager_a(make_user, team_a) -> User:
    return make_user("manager-a", team=team_a, role=Role.MANAGER)


@pytest.fixture
def viewer_a(make_user, team_a) -> User:
    return make_user("viewer-a", team=team_a, role=Role.VIEWER)


@pytest.fixture
def manager_b(make_user, team_b) -> User:
    return make_user("manager-b", team=team_b, role=Role.MANAGER)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
