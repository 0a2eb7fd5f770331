"""In real Chromium: a manager imports a French CSV (`;`, Windows-1252, dd/mm/yyyy, « 1 234,56 », « finalisée »),
downloads the error file of a file with a bad line, and undoes the import (issue 15)."""

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD
from metrics.activity import tasks as import_tasks
from metrics.models import Order

pytestmark = pytest.mark.browser

HEADER = "Référence;Date de commande;Montant TTC;Statut\n"
GOOD = HEADER + "CMD-1;01/12/2026 10:15;1 234,56;finalisée\nCMD-2;02/12/2026;99,90;payée\n"
BAD = HEADER + "CMD-3;31/02/2026;10;finalisée\nCMD-4;03/12/2026;5;finalisée\n"


def _upload(page, live_server, tmp_path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("cp1252"))
    page.goto(f"{live_server.url}/import/ventes/")
    page.locator("select[name=kind]").select_option("orders")
    page.set_input_files("input[type=file]", str(path))
    page.locator("form[data-import-upload] button[type=submit]").click()
    page.wait_for_load_state("load")
    # the mapping page found the French headers; start
    page.locator("button.primary[type=submit]").click()
    page.wait_for_selector("[data-import-state]")


def test_a_french_csv_end_to_end(live_server, page, screenshot, transactional_db, monkeypatch, tmp_path):
    call_command("load_kpi_catalogue", verbosity=0)
    call_command("seed_demo", "--records", "0", verbosity=0)
    # the worker's job runs at once
    monkeypatch.setattr(
        import_tasks.activity_import_task,
        "apply_async",
        lambda args, kwargs, **_: import_tasks.activity_import_task(*args, **kwargs),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "claire.martin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/**")

    # a French file: read as it is
    _upload(page, live_server, tmp_path, "commandes.csv", GOOD)
    page.reload()
    assert page.locator("[data-import-state]").get_attribute("data-import-state") == "succeeded"
    amounts = dict(Order.objects.values_list("external_id", "amount"))
    assert {k: str(v) for k, v in amounts.items()} == {"CMD-1": "1234.56", "CMD-2": "99.90"}
    screenshot(page, "import-french-done")

    # undo it: the orders are gone
    page.locator("[data-undo]").click()
    page.wait_for_load_state("load")
    assert not Order.objects.filter(external_id__in=["CMD-1", "CMD-2"]).exists()
    screenshot(page, "import-french-undone")

    # a file with a bad date: shown as failed, with its error file
    _upload(page, live_server, tmp_path, "commandes-erreur.csv", BAD)
    page.reload()
    assert page.locator("[data-import-failed]").is_visible()
    with page.expect_download() as download:
        page.locator("[data-error-file]").click()
    content = download.value.path().read_bytes().decode("utf-8-sig")
    assert "31/02/2026" in content and ";" in content.splitlines()[0]
    assert page.locator("[data-retry]").is_visible()
    screenshot(page, "import-french-failed")
    assert page.console_errors == []
