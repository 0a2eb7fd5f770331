"""Writes about users, teams and memberships: the only door for them."""

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKeyScope, LoginEvent, Membership, Team, TeamApiKey, TeamKind, User
from accounts.roles import Role


class TeamError(ValueError):
    """A team could not be created or changed; the message says why."""


@transaction.atomic
def team_upsert(*, slug: str, name: str, kind: str = TeamKind.OTHER, parent_slug: str | None = None) -> Team:
    """Create the team or update its name, kind and parent; running it twice changes nothing."""
    if kind not in TeamKind.values:
        raise TeamError(f"Unknown team kind {kind!r}; expected one of {', '.join(TeamKind.values)}.")
    parent = None
    if parent_slug:
        parent = Team.objects.filter(slug=parent_slug).first()
        if parent is None:
            raise TeamError(f"No parent team with slug {parent_slug!r}.")
        if parent.slug == slug:
            raise TeamError("A team cannot be its own parent.")
    team, _ = Team.objects.update_or_create(slug=slug, defaults={"name": name, "kind": kind, "parent": parent})
    # Refuse cycles (a team below itself through its parents).
    seen, current = set(), team.parent
    while current is not None:
        if current.pk == team.pk or current.pk in seen:
            raise TeamError("This parent would make a cycle of teams.")
        seen.add(current.pk)
        current = current.parent
    return team


ORGANISATION_SLUG = "organisation"


def organisation_root_ensure() -> Team:
    """The organisation root: the one team without a parent, above all others, where KPIs that join several
    teams' facts (the acquisition cost: marketing's spend over sales' new customers) have their values.

    With one parentless team, that team is the root. With none, an "Organisation" team is created; with several
    (a deployment from before the root existed), it is created above them. Idempotent."""
    roots = list(Team.objects.filter(parent__isnull=True).order_by("pk")[:2])
    if len(roots) == 1:
        return roots[0]
    with transaction.atomic():
        root = Team.objects.filter(slug=ORGANISATION_SLUG, parent__isnull=True).first()
        if root is None:
            slug = ORGANISATION_SLUG
            if Team.objects.filter(slug=slug).exists():  # taken by a team below: a slug of its own
                slug = f"{ORGANISATION_SLUG}-root"
            root = Team.objects.create(slug=slug, name="Organisation", kind=TeamKind.OTHER)
        _adopt(root)
    return root


def _adopt(root: Team) -> int:
    """Every other parentless team goes under `root`, saved one by one so the tree's followers (the engine's
    closure) see the move; returns how many."""
    orphans = list(Team.objects.filter(parent__isnull=True).exclude(pk=root.pk))
    for team in orphans:
        team.parent = root
        team.save(update_fields=["parent"])
    return len(orphans)


@transaction.atomic
def organisation_root_set(*, team: Team) -> int:
    """Make `team` the organisation root: every other parentless team goes under it; returns how many."""
    if team.parent_id is not None:
        raise TeamError("The organisation root has no parent team.")
    return _adopt(team)


def membership_set(*, user: User, team: Team, role: str = Role.MEMBER) -> Membership:
    """Give `user` this role in `team` (replacing any other role there)."""
    membership, _ = Membership.objects.update_or_create(user=user, team=team, defaults={"role": role})
    return membership


def user_upsert(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    language: str = "fr",
) -> User:
    """Create or reset a user with this password (used by demo data and tests)."""
    user, _ = User.objects.get_or_create(username=username)
    user.email = email
    user.first_name = first_name
    user.last_name = last_name
    user.is_staff = is_staff
    user.is_superuser = is_staff
    user.language = language
    user.set_password(password)
    user.save()
    return user


def login_event_record(*, user: User, ip_address: str | None = None) -> LoginEvent:
    """Record a successful login."""
    return LoginEvent.objects.create(user=user, occurred_at=timezone.now(), ip_address=ip_address or None)


def api_key_create(
    *, team: Team, name: str, scopes: list[str] | tuple[str, ...] = ("read",), created_by: User | None = None
) -> tuple[TeamApiKey, str]:
    """Create an API key for `team` with these scopes; return it and the plain key (shown once, stored hashed)."""
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    known = {"read", "write"}
    if not wanted or not wanted <= known:
        raise TeamError(f"Unknown API key scopes {sorted(wanted - known) or '(none)'}; use read, write or read,write.")
    scope_value = ",".join(sorted(wanted))
    if scope_value not in ApiKeyScope.values:
        raise TeamError(f"Unknown API key scopes {scope_value!r}.")
    if not name.strip():
        raise TeamError("An API key needs a name.")
    return TeamApiKey.objects.create_key(team=team, name=name.strip()[:50], scopes=scope_value, created_by=created_by)


def api_key_revoke(*, api_key: TeamApiKey) -> TeamApiKey:
    """Revoke the key for good: requests using it are refused from now on."""
    if not api_key.revoked:
        api_key.revoked = True
        api_key.save(update_fields=["revoked"])
    return api_key
