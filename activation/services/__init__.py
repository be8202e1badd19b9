"""The transaction engine: accept, dispatch, settle, reverse, sweep.

    API view -> accept.transaction_accept()  PENDING row + idempotency key, commit
                 on commit -> status to Redis, a settlement message on its way (dispatch)
    worker   -> settle.transactions_settle_pending()  batch after batch until none is pending:
                 settle.transactions_settle()  claim (PROCESSING) -> lock rows in fixed order ->
                 settler re-checks rules and writes -> SUCCEEDED/FAILED, commit
                 (the same statement records each outcome in the outbox), commit
                 on commit -> status to Redis + pub/sub, a drain of the outbox on its way
    worker   -> outbox.finished_outbox_drain()  outcomes to their receivers (notifications,
                 partner callbacks) in the database transaction that deletes the outbox rows
    request  -> reverse.transaction_reverse(), reverse.transaction_record_settled()
    beat, worker (re)connect -> housekeeping.transactions_sweep()  send again what a fault left
"""
from activation.locks import rows_lock
from activation.services.accept import Accepted, transaction_accept
from activation.services.dispatch import SETTLEMENT_WANTED_KEY, transactions_dispatch
from activation.services.outbox import finished_outbox_drain, finished_outbox_sweep
from activation.services.housekeeping import idempotency_keys_prune, transactions_sweep
from activation.services.reverse import transaction_record_settled, transaction_reverse
from activation.services.settle import (SettledBatch, transaction_transition, transactions_announce,
                                        transactions_finish, transactions_settle, transactions_settle_pending)

__all__ = [
    "Accepted", "SETTLEMENT_WANTED_KEY", "SettledBatch", "finished_outbox_drain", "finished_outbox_sweep",
    "idempotency_keys_prune", "rows_lock",
    "transaction_accept", "transaction_record_settled", "transaction_reverse", "transaction_transition",
    "transactions_announce", "transactions_dispatch", "transactions_finish", "transactions_settle",
    "transactions_settle_pending", "transactions_sweep",
]
