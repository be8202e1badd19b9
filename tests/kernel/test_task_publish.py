"""Every task sent by name (kernel.tasks.task_publish, an outbox's task_name) is a task the
worker registers: a renamed task or a typo would otherwise be lost in the broker silently."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", "tests", "node_modules", ".run", ".git"}


def _sources():
    for path in ROOT.rglob("*.py"):
        if not SKIPPED.intersection(path.relative_to(ROOT).parts):
            yield path


def _module_strings(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _send_task_name(node: ast.AST) -> ast.expr | None:
    """The name argument of app.send_task(name, ...) or partial(app.send_task, name, ...)."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Attribute) and node.func.attr == "send_task" and node.args:
        return node.args[0]
    if (isinstance(node.func, ast.Name) and node.func.id == "partial" and len(node.args) > 1
            and isinstance(node.args[0], ast.Attribute) and node.args[0].attr == "send_task"):
        return node.args[1]
    return None


def published_task_names() -> dict[str, str]:
    """name -> where it is published: the first argument of each task_publish(...) call (a
    string, or a module constant holding one) and the task_name of each Outbox subclass."""
    names, unresolved = {}, []
    for path in _sources():
        source = path.read_text()
        if "task_publish(" not in source and "Outbox" not in source and "send_task" not in source:
            continue
        tree = ast.parse(source)
        constants = _module_strings(tree)
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "task_publish"
                    and node.args):
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names[first.value] = f"{where}:{node.lineno}"
                elif isinstance(first, ast.Name) and first.id in constants:
                    names[constants[first.id]] = f"{where}:{node.lineno}"
                elif not (isinstance(first, ast.Attribute) and first.attr == "task_name"):
                    unresolved.append(f"{where}:{node.lineno}")
            sent = _send_task_name(node)  # a publish whose broker error is not swallowed
            if isinstance(sent, ast.Constant) and isinstance(sent.value, str):
                names[sent.value] = f"{where}:{node.lineno}"
            if isinstance(node, ast.ClassDef) and any("Outbox" in ast.unparse(base) for base in node.bases):
                for item in node.body:
                    if (isinstance(item, ast.Assign) and any(getattr(t, "id", None) == "task_name" for t in item.targets)
                            and isinstance(item.value, ast.Constant)):
                        names[item.value.value] = f"{where}:{item.lineno}"
    assert not unresolved, f"task_publish with a name this test cannot read (use a string constant): {unresolved}"
    return names


def test_every_task_published_by_name_is_registered():
    # given
    from config.celery import app

    app.loader.import_default_modules()
    registered = set(app.tasks)

    # when
    published = published_task_names()

    # then: the scan sees the publishers it exists for, and each name is a registered task
    assert {"partners.tasks.partner_callback_deliver_task", "notifications.tasks.notification_deliver_task",
            "offers.codes.tasks.code_pool_generate_task", "offers.flash.tasks.flash_promo_holds_expire_task",
            "offers.flash.tasks.flash_promo_start_fanout_task",
            "activation.tasks.finished_outbox_drain_task",
            "offers.flash.tasks.flash_promo_start_fanout_chunk_task"} <= set(published)
    missing = {name: where for name, where in published.items() if name not in registered}
    assert not missing, f"published but not registered: {missing}"


@pytest.mark.parametrize("module", ["partners.services", "notifications.services", "offers.codes.services",
                                    "offers.flash.services"])
def test_services_do_not_import_their_tasks_module(module):
    # given
    path = ROOT / (module.replace(".", "/") + ".py")
    tasks_module = module.rsplit(".", 1)[0] + ".tasks"

    # when
    imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}

    # then
    assert tasks_module not in imported
