"""Pages of notification delivery: the digest's unsubscribe page, reached from an e-mail without logging in."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from objectives.digest import digest_unsubscribe, unsubscribe_user


@require_http_methods(["GET", "POST"])
def digest_unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (mail scanners follow links, they do not submit forms); POST unsubscribes."""
    user = unsubscribe_user(token=token)
    if user is None:
        return render(request, "objectives/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        digest_unsubscribe(user=user)
        done = True
    return render(request, "objectives/unsubscribe.html", {"done": done, "email": user.email})
