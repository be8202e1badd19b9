"""Settlement of flash reservations: with the account (rank 10) and the promo (rank 40)
locked, lapse expired holds, re-check eligibility, and hold one unit if any is left."""
from django.utils import timezone

from accounts.models import CustomerProfile
from activation.registry import LOCK_RANK_FLASH_PROMO, LockedRows, LockTarget, Outcome, settler_register
from offers.flash.models import FlashPromo, FlashReservation
from offers.flash.services import (KIND_FLASH_RESERVATION, flash_holds_lapse, flash_promo_ineligibility,
                                   flash_promo_units_left, flash_reservation_hold)
from offers.settlement import account_lock_target

FAILURE_SOLD_OUT = "sold_out"
FAILURE_NOT_ELIGIBLE = "not_eligible"
FAILURE_ALREADY_HOLDING = "already_holding"

_REASON_MESSAGES = {
    "not_running": "The promotion is not running now.",
    "segment": "The promotion is not offered to your customer segment.",
    "distance": "You are outside the promotion's radius around the store.",
}


class FlashReservationSettler:
    kind = KIND_FLASH_RESERVATION

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id),
                LockTarget(rank=LOCK_RANK_FLASH_PROMO, model=FlashPromo, field="id", value=txn.payload["promo_id"])]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        promo = locked.get(FlashPromo, "id", txn.payload["promo_id"])
        if promo is None:
            return Outcome.failure(FAILURE_NOT_ELIGIBLE, _REASON_MESSAGES["not_running"], {"reason": "not_running"})
        now = timezone.now()
        profile = CustomerProfile.objects.filter(user_id=txn.user_id).first()
        reason = flash_promo_ineligibility(promo=promo, profile=profile, now=now)
        if reason:
            return Outcome.failure(FAILURE_NOT_ELIGIBLE, _REASON_MESSAGES[reason], {"reason": reason})
        flash_holds_lapse(promo=promo, now=now)
        held = FlashReservation.objects.filter(promo=promo, user_id=txn.user_id,
                                               status=FlashReservation.Status.HELD).first()
        if held is not None:
            return Outcome.failure(FAILURE_ALREADY_HOLDING, "You already hold a unit of this promotion.",
                                   {"reservation_id": held.id, "expires_at": held.expires_at.isoformat()})
        if flash_promo_units_left(promo=promo, now=now) <= 0:
            return Outcome.failure(FAILURE_SOLD_OUT, "Every unit of this promotion is taken.")
        reservation = flash_reservation_hold(promo=promo, user_id=txn.user_id, transaction_id=txn.id, now=now)
        return Outcome.success({"reservation_id": reservation.id, "promo_id": promo.id,
                                "promo_price": str(promo.promo_price), "expires_at": reservation.expires_at.isoformat(),
                                "complete_url": f"/api/v1/promotions/reservations/{reservation.id}/complete/"})


def settlers_register() -> None:
    """Registers the settlers of offers.flash with the engine (called from OffersConfig.ready)."""
    settler_register(FlashReservationSettler())
