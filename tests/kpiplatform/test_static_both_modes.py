"""`make setup` prepares static files once for both debug modes (issue 16, defect 8).

`collectstatic` used to run with the storage of the debug mode it was run in: after a set-up in
debug, switching debug off broke every page (« Missing staticfiles manifest entry for
'favicon.svg' »). The storage is now the same in both modes, so the manifest is always written.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE_AND_ASSET = """
import re, django
django.setup()
from django.test import Client
client = Client()
page = client.get("/accounts/login/")
assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.content.decode())
fetched = [client.get(url) for url in assets]
print(page.status_code, len(assets), sorted({r.status_code for r in fetched}), assets[0] if assets else "")
"""


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    full.update(env, DJANGO_SETTINGS_MODULE="kpiplatform.settings")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)


def test_static_files_collected_in_debug_serve_every_page_with_debug_off(tmp_path):
    # given `make setup` on a fresh machine: collectstatic with debug asked for, into a fresh var/
    var = {"KPI_VAR_DIR": str(tmp_path)}
    collected = run("manage.py", "collectstatic", "--noinput", "-v", "0", env={**var, "DJANGO_DEBUG": "true"})
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "staticfiles" / "staticfiles.json").exists()
    migrated = run("manage.py", "migrate", "--noinput", "-v", "0", env={**var, "DJANGO_DEBUG": "true"})
    assert migrated.returncode == 0, migrated.stderr
    # when the operator switches debug off (production settings) and opens the login page
    production = {
        **var,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "s" * 60,
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    served = run("-c", PAGE_AND_ASSET, env=production)
    # then the page renders with hashed asset links, and every asset is served (by WhiteNoise)
    assert served.returncode == 0, served.stderr[-3000:]
    status, count, asset_statuses, first = served.stdout.split(maxsplit=3)
    assert status == "200" and int(count) >= 2
    assert asset_statuses == "[200]" and re.search(r"\.[0-9a-f]{12}\.", first)
