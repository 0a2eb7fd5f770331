"""The API docs page /api/v1/docs/: Swagger UI served from the site's own static files, so it works offline."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse


class _AssetUrls(HTMLParser):
    """Every src and href attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _asset_urls(html: str) -> list[str]:
    parser = _AssetUrls()
    parser.feed(html)
    return parser.urls


def _docs_page(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    return response.content.decode()


def test_docs_page_loads_no_asset_from_another_site(client, viewer_a):
    html = _docs_page(client, viewer_a)

    urls = _asset_urls(html)

    # Swagger UI's script, style sheet and favicon at least, all on this site
    assert len(urls) >= 3
    assert [url for url in urls if urlsplit(url).scheme or url.startswith("//")] == []
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_docs_page_assets_are_static_files_that_exist(client, viewer_a):
    html = _docs_page(client, viewer_a)

    assets = [url for url in _asset_urls(html) if url.startswith(settings.STATIC_URL)]

    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert any(url.endswith("swagger-ui.css") for url in assets)
    missing = [url for url in assets if finders.find(urlsplit(url).path.removeprefix(settings.STATIC_URL)) is None]
    assert missing == []


def test_docs_page_points_at_the_schema(client, viewer_a):
    html = _docs_page(client, viewer_a)

    assert reverse("api-schema") in html
