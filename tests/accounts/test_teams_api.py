"""GET /api/v1/teams/ lists only the caller's teams."""


def test_teams_api_lists_own_teams_only(api_client, viewer_a, team_b):
    api_client.force_authenticate(viewer_a)
    body = api_client.get("/api/v1/teams/").json()
    assert [t["slug"] for t in body["results"]] == ["team-a"]


def test_teams_api_requires_authentication(api_client, team_a):
    assert api_client.get("/api/v1/teams/").status_code in (401, 403)
