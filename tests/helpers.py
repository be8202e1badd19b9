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
