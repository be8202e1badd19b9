"""Settlement of flash reservations: with the account (rank 10) and the promo (rank 40)
locked, lapse expired holds, re-check eligibility, and hold one unit if any is left. The
reversers of holds and purchases take the same locks."""
from django.utils import timezone

from accounts.models import Account, CustomerProfile
from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.errors import OfferFailure
from offers.flash.errors import FlashFailure
from offers.flash.models import FlashPromo, FlashReservation
from offers.flash.services import (KIND_FLASH_PURCHASE, KIND_FLASH_RESERVATION, flash_customer_cap_reached,
                                   flash_holds_lapse, flash_promo_ineligibility, flash_promo_units_left,
                                   flash_purchase_refund, flash_reservation_hold, flash_reservation_release)
from offers.locks import account_lock_target, flash_promo_lock_target

_REASON_MESSAGES = {
    "not_running": "The promotion is not running now.",
    "segment": "The promotion is not offered to your customer segment.",
    "distance": "You are outside the promotion's radius around the store.",
}


def _promo_targets(txn) -> list[LockTarget]:
    return [account_lock_target(txn.user_id), flash_promo_lock_target(txn.payload["promo_id"])]


class FlashReservationSettler:
    kind = KIND_FLASH_RESERVATION
    lock_targets = staticmethod(_promo_targets)

    def settle(self, txn, locked: LockedRows) -> Outcome:
        promo = locked.get(FlashPromo, "id", txn.payload["promo_id"])
        if promo is None:
            return Outcome.failure(FlashFailure.NOT_ELIGIBLE, _REASON_MESSAGES["not_running"],
                                   {"reason": "not_running"})
        now = timezone.now()
        profile = CustomerProfile.objects.filter(user_id=txn.user_id).first()
        reason = flash_promo_ineligibility(promo=promo, profile=profile, now=now)
        if reason:
            return Outcome.failure(FlashFailure.NOT_ELIGIBLE, _REASON_MESSAGES[reason], {"reason": reason})
        flash_holds_lapse(promo=promo, now=now)
        held = FlashReservation.objects.filter(promo=promo, user_id=txn.user_id,
                                               status=FlashReservation.Status.HELD).first()
        if held is not None:
            return Outcome.failure(FlashFailure.ALREADY_HOLDING, "You already hold a unit of this promotion.",
                                   {"reservation_id": held.id, "expires_at": held.expires_at.isoformat()})
        if flash_customer_cap_reached(promo=promo, user_id=txn.user_id, now=now):
            return Outcome.failure(FlashFailure.CUSTOMER_LIMIT_REACHED,
                                   "You already have every unit one customer may buy.",
                                   {"max_units_per_customer": promo.max_units_per_customer})
        if flash_promo_units_left(promo=promo, now=now) <= 0:
            return Outcome.failure(OfferFailure.SOLD_OUT, "Every unit of this promotion is taken.")
        reservation = flash_reservation_hold(promo=promo, user_id=txn.user_id, transaction_id=txn.id, now=now)
        return Outcome.success({"reservation_id": reservation.id, "promo_id": promo.id,
                                "promo_price": str(promo.promo_price), "expires_at": reservation.expires_at.isoformat(),
                                "complete_url": f"/api/v1/promotions/reservations/{reservation.id}/complete/"})


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
