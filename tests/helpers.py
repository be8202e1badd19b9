import re
import time
from decimal import Decimal

from django.db.models import Sum

from accounts.models import Account, LedgerEntry
from activation.models import Transaction


def wait_until_terminal(transaction_ids, timeout: float = 60) -> list[Transaction]:
    ids = list(transaction_ids)
    deadline = time.monotonic() + timeout
    while True:
        txns = list(Transaction.objects.filter(pk__in=ids))
        if len(txns) == len(ids) and all(t.is_terminal for t in txns):
            return txns
        if time.monotonic() > deadline:
            pending = [str(t.id) for t in txns if not t.is_terminal]
            raise AssertionError(f"{len(pending)} transaction(s) not terminal after {timeout}s: {pending[:5]}")
        time.sleep(0.1)


def assert_ledger_matches_balance(user) -> Decimal:
    account = Account.objects.get(user=user)
    ledger = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    assert ledger == account.balance, f"ledger {ledger} != balance {account.balance}"
    assert account.balance >= 0
    return account.balance


def run_at_once(target, args_list) -> None:
    """Calls `target(*args)` for every args tuple, each in its own thread with its own database
    connection, all released together by a barrier: the shape of every concurrency test. An
    exception in any thread fails the caller."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(args_list))
    errors = []

    def run(args):
        try:
            barrier.wait()
            target(*args)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(args,)) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def tables_scanned(sql: str, params: dict) -> dict[str, set[str]]:
    """The tables a hand-written statement reads whole (sequential scans), under the plan
    PostgreSQL makes for these parameters and under the generic plan a prepared statement
    may switch to. Run inside a transaction that is rolled back: EXPLAIN ANALYZE executes."""
    return {mode: {node["Relation Name"] for node in _plan_nodes(plan) if node["Node Type"] == "Seq Scan"}
            for mode, plan in _plans(sql, params).items()}


def rows_read(sql: str, params: dict) -> dict[str, dict[str, int]]:
    """How many rows of each table a hand-written statement reads (those it keeps and those its
    filters drop), under both plans, as tables_scanned."""
    read = {}
    for mode, plan in _plans(sql, params).items():
        read[mode] = by_table = {}
        for node in _plan_nodes(plan):
            if "Relation Name" in node and node["Node Type"] != "ModifyTable":
                rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get(
                    "Rows Removed by Index Recheck", 0)
                by_table[node["Relation Name"]] = by_table.get(node["Relation Name"], 0) + rows * node["Actual Loops"]
    return read


def _plans(sql: str, params: dict) -> dict[str, dict]:
    from django.db import connection

    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    plans = {}
    with connection.cursor() as cursor:
        for mode in ("force_custom_plan", "force_generic_plan"):
            cursor.execute(f"SET LOCAL plan_cache_mode = {mode}")
            cursor.execute(f"PREPARE plan_probe AS {numbered}")
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE plan_probe({', '.join(['%s'] * len(names))})",
                           [params[name] for name in names])
            plans[mode] = cursor.fetchone()[0][0]["Plan"]
            cursor.execute("DEALLOCATE plan_probe")
    return plans


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)
