"""Settlement of flash reservations: with the accounts (rank 10) and the promo (rank 40)
locked, a batch of reservations is decided as one at a time would be (re-check eligibility,
lapse expired holds, hold one unit each while any is left: offers.flash.services.flash_holds_settle);
one reservation is a batch of one. The reversers of holds and purchases take the same locks."""
from django.utils import timezone

from accounts.models import Account
from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.errors import OfferFailure
from offers.flash.errors import FlashFailure
from offers.flash.models import FlashPromo
from offers.flash.services import (KIND_FLASH_PURCHASE, KIND_FLASH_RESERVATION, FlashHoldDecision, FlashHoldRequest,
                                   flash_holds_settle, flash_purchase_refund, flash_reservation_release)
from offers.locks import account_lock_target, flash_promo_lock_target

_REASON_MESSAGES = {
    "not_running": "The promotion is not running now.",
    "segment": "The promotion is not offered to your customer segment.",
    "distance": "You are outside the promotion's radius around the store.",
}


def _promo_targets(txn) -> list[LockTarget]:
    return [account_lock_target(txn.user_id), flash_promo_lock_target(txn.payload["promo_id"])]


def _hold_request(txn) -> FlashHoldRequest:
    return FlashHoldRequest(transaction_id=txn.id, user_id=txn.user_id, promo_id=txn.payload["promo_id"])


def _hold_outcome(request: FlashHoldRequest, decision: FlashHoldDecision, locked: LockedRows) -> Outcome:
    if decision.reason:
        return Outcome.failure(FlashFailure.NOT_ELIGIBLE, _REASON_MESSAGES[decision.reason],
                               {"reason": decision.reason})
    held = decision.reservation
    if decision.refusal == FlashFailure.ALREADY_HOLDING:
        return Outcome.failure(FlashFailure.ALREADY_HOLDING, "You already hold a unit of this promotion.",
                               {"reservation_id": held.id, "expires_at": held.expires_at.isoformat()})
    promo = locked.get(FlashPromo, "id", request.promo_id)
    if decision.refusal == FlashFailure.CUSTOMER_LIMIT_REACHED:
        return Outcome.failure(FlashFailure.CUSTOMER_LIMIT_REACHED, "You already have every unit one customer may buy.",
                               {"max_units_per_customer": promo.max_units_per_customer})
    if decision.refusal == OfferFailure.SOLD_OUT:
        return Outcome.failure(OfferFailure.SOLD_OUT, "Every unit of this promotion is taken.")
    return Outcome.success({"reservation_id": held.id, "promo_id": promo.id, "promo_price": str(promo.promo_price),
                            "expires_at": held.expires_at.isoformat(),
                            "complete_url": f"/api/v1/promotions/reservations/{held.id}/complete/"})


class FlashReservationSettler:
    kind = KIND_FLASH_RESERVATION
    lock_targets = staticmethod(_promo_targets)

    def settle_batch(self, txns, locked: LockedRows) -> list[Outcome]:
        requests = [_hold_request(txn) for txn in txns]
        decisions = flash_holds_settle(requests=requests, locked=locked, now=timezone.now())
        return [_hold_outcome(r, d, locked) for r, d in zip(requests, decisions, strict=True)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        """One item (the engine's fallback when a batch raised): the same code as a batch."""
        return self.settle_batch([txn], locked)[0]


class FlashReservationReverser:
    """A hold reversed (staff): the unit is free again. A bought unit is refunded by
    reversing its purchase instead."""

    customer_may_reverse = False
    lock_targets = staticmethod(_promo_targets)

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        promo = locked.get(FlashPromo, "id", original.payload["promo_id"])
        state = flash_reservation_release(transaction_id=original.id, promo=promo, now=timezone.now())
        if state == "purchased":
            return Outcome.failure(FlashFailure.PURCHASE_NOT_REVERSED,
                                   "The unit was bought: reverse its purchase, which refunds it and frees the unit.")
        return Outcome.success({"reversed_transaction_id": str(original.id), "reservation": state})


class FlashPurchaseReverser:
    """A purchase reversed (staff): the price is refunded and the unit is free again."""

    customer_may_reverse = False
    lock_targets = staticmethod(_promo_targets)

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", original.user_id)
        reservation = flash_purchase_refund(original=original, reversal=reversal, account=account)
        return Outcome.success({"reversed_transaction_id": str(original.id), "reservation_id": reservation.id,
                                "refunded": str(original.amount), "currency": original.currency,
                                "balance_after": str(account.balance)})


def settlers_register() -> None:
    """Registers the settlers of offers.flash with the engine (called from OffersConfig.ready)."""
    settler_register(FlashReservationSettler())
    reverser_register(kind=KIND_FLASH_RESERVATION, reverser=FlashReservationReverser())
    reverser_register(kind=KIND_FLASH_PURCHASE, reverser=FlashPurchaseReverser())
