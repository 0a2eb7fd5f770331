"""The layout's fences that import-linter cannot state: no import cycle between two modules of the project (an
import inside a function counts too), no import hidden inside a function, every task with a pinned name."""

import ast
from pathlib import Path

import grimp

from kpiplatform.celery import TASK_PACKAGES, app

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "metrics", "objectives", "kpiplatform")
# Django loads models and connects receivers once the app registry is ready: the one legitimate place.
FUNCTION_IMPORTS_ALLOWED = {("apps.py", "ready")}


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that reach each other through imports (strongly connected, two or more modules)."""
    modules = sorted(m for m in graph.modules if ".migrations" not in m)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules or ".migrations" in imported:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return cycles


def project_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    # given a → b → c → a, and d importing a without being imported back
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_two_modules_of_the_project_import_each_other():
    # grimp reads every import statement, those inside functions included
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert import_cycles(graph) == []


def test_no_project_module_is_imported_inside_a_function():
    # An import inside a function is how a cycle hides; third-party ones (openpyxl, psycopg) only load late.
    found = []
    for path in project_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (path.name, function.name) in FUNCTION_IMPORTS_ALLOWED:
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
                elif isinstance(node, ast.Import):
                    found += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                        for alias in node.names
                        if alias.name.split(".")[0] in PACKAGES
                    ]
    assert found == []


def test_every_task_pins_its_name():
    # django-celery-beat's rows and queued messages name tasks: a name must not follow the module it lives in.
    unnamed = []
    for path in project_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for decorator in function.decorator_list:
                called = decorator.func if isinstance(decorator, ast.Call) else None
                is_task = getattr(called, "id", getattr(called, "attr", "")) in ("shared_task", "task")
                if is_task and not any(keyword.arg == "name" for keyword in decorator.keywords):
                    unnamed.append(f"{path.relative_to(ROOT)}:{function.lineno} {function.name}")
    assert unnamed == []


def test_the_worker_finds_every_task_of_the_capability_packages():
    # given the worker's start (it imports each listed package's tasks.py)
    app.loader.import_default_modules()
    app.autodiscover_tasks(TASK_PACKAGES, force=True)
    # then the tasks of every package are registered under their pinned names
    assert {
        "metrics.import_tasks.activity_import_task",
        "metrics.tasks.recompute_dirty_task",
        "metrics.tasks.recompute_all_task",
        "metrics.tasks.recompute_kpis_task",
        "objectives.tasks.objectives_progress_refresh_task",
        "objectives.alert_tasks.alerts_evaluate_task",
        "objectives.alert_tasks.alerts_evaluate_targets_task",
        "objectives.alert_tasks.alerts_evaluate_scheduled_task",
        "objectives.delivery_tasks.webhook_delivery_send_task",
        "objectives.delivery_tasks.notifications_email_send_task",
        "objectives.delivery_tasks.deliveries_sweep_task",
        "objectives.delivery_tasks.digests_send_task",
    } <= set(app.tasks)
