"""Template context shared by every page: the teams of the team switcher."""

from accounts.selectors import teams_visible_to


def teams(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"visible_teams": []}
    # Lazy: evaluated only by templates that show the switcher.
    return {"visible_teams": teams_visible_to(user).only("id", "name", "slug", "kind")}
