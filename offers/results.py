"""What a finished offer transaction did, as one typed value per kind. The settlers write the
payload and result JSON; this module is the one place outside them that reads it back, so
notifications and partners ask `transaction_result` / `partner_reference_of` instead of
matching kind strings and JSON keys."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable
from uuid import UUID

from activation.models import Transaction
from offers.campaigns.services import KIND_DISCOUNT_REDEMPTION
from offers.campaigns.settlement import redemption_campaign_ids
from offers.codes.services import KIND_CODE_CLAIM
from offers.flash.services import KIND_FLASH_PURCHASE, KIND_FLASH_RESERVATION
from offers.services import KIND_OFFER_ACTIVATION, KIND_OFFER_RENEWAL


@dataclass(frozen=True, kw_only=True)
class FinishedTransaction:
    """What every result says. `amount` is what was charged (succeeded) or quoted (failed), in
    `currency`; None for a kind that charges nothing."""
    transaction_id: UUID
    user_id: int
    succeeded: bool
    failure_code: str  # "" when succeeded
    amount: Decimal | None
    currency: str


@dataclass(frozen=True, kw_only=True)
class OfferActivationResult(FinishedTransaction):
    offer_id: int
    subscription_id: int | None  # the subscription created or extended (succeeded only)
    expires_at: datetime | None  # its new end (succeeded only)
    campaign_id: int | None  # the cart campaign whose discount came off the price, if any
    discount: Decimal | None
    partner_reference: str | None  # the partner's own reference, when a partner asked


@dataclass(frozen=True, kw_only=True)
class OfferRenewalResult(FinishedTransaction):
    offer_id: int
    subscription_id: int
    expires_at: datetime | None  # the renewed end (succeeded only)


@dataclass(frozen=True, kw_only=True)
class DiscountRedemptionResult(FinishedTransaction):
    campaign_ids: tuple[int, ...]  # asked for, in order
    campaign_id: int | None  # the first campaign granted (succeeded only)
    discount: Decimal | None  # the whole discount, in `currency` (succeeded only)
    order_reference: str
    code_id: int | None


@dataclass(frozen=True, kw_only=True)
class CodeClaimResult(FinishedTransaction):
    pool_id: int
    code: str  # "" when failed
    already_claimed: bool  # the customer's existing code handed out again
    granted_by_id: int | None  # a brand member's grant


@dataclass(frozen=True, kw_only=True)
class FlashReservationResult(FinishedTransaction):
    promo_id: int
    reservation_id: int | None  # the hold (refused as already holding: the hold already there)
    expires_at: datetime | None  # when the hold lapses
    promo_price: Decimal | None


@dataclass(frozen=True, kw_only=True)
class FlashPurchaseResult(FinishedTransaction):
    promo_id: int
    reservation_id: int


TransactionResult = (OfferActivationResult | OfferRenewalResult | DiscountRedemptionResult | CodeClaimResult
                     | FlashReservationResult | FlashPurchaseResult)


def _decimal(value) -> Decimal | None:
    return Decimal(value) if value not in (None, "") else None


def _datetime(value) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _common(txn: Transaction, *, amount=None) -> dict:
    return {"transaction_id": txn.id, "user_id": txn.user_id, "succeeded": txn.status == Transaction.Status.SUCCEEDED,
            "failure_code": txn.failure_code, "amount": amount, "currency": txn.currency}


def _charged(txn: Transaction) -> Decimal | None:
    charged = (txn.result or {}).get("amount_charged")
    return Decimal(charged) if charged is not None else txn.amount


def _offer_activation(txn: Transaction) -> OfferActivationResult:
    payload, result = txn.payload, txn.result or {}
    return OfferActivationResult(**_common(txn, amount=_charged(txn)), offer_id=int(payload["offer_id"]),
                                 subscription_id=result.get("subscription_id"),
                                 expires_at=_datetime(result.get("expires_at")),
                                 campaign_id=result.get("campaign_id"),
                                 discount=_decimal(result.get("discount")), partner_reference=partner_reference_of(txn))


def _offer_renewal(txn: Transaction) -> OfferRenewalResult:
    payload, result = txn.payload, txn.result or {}
    return OfferRenewalResult(**_common(txn, amount=_charged(txn)), offer_id=int(payload["offer_id"]),
                              subscription_id=int(payload["subscription_id"]),
                              expires_at=_datetime(result.get("expires_at")))


def _discount_redemption(txn: Transaction) -> DiscountRedemptionResult:
    payload, result = txn.payload, txn.result or {}
    common = {**_common(txn, amount=txn.amount), "currency": result.get("currency") or txn.currency}
    return DiscountRedemptionResult(**common, campaign_ids=tuple(redemption_campaign_ids(payload)),
                                    campaign_id=result.get("campaign_id") if common["succeeded"] else None,
                                    discount=_decimal(result.get("discount")),
                                    order_reference=result.get("order_reference") or payload.get("order_reference", ""),
                                    code_id=payload.get("code_id"))


def _code_claim(txn: Transaction) -> CodeClaimResult:
    payload, result = txn.payload, txn.result or {}
    return CodeClaimResult(**_common(txn, amount=txn.amount), pool_id=int(payload["pool_id"]),
                           code=result.get("code", ""), already_claimed=bool(result.get("already_claimed")),
                           granted_by_id=payload.get("granted_by"))


def _flash_reservation(txn: Transaction) -> FlashReservationResult:
    payload, result = txn.payload, txn.result or {}
    return FlashReservationResult(**_common(txn, amount=txn.amount), promo_id=int(payload["promo_id"]),
                                  reservation_id=result.get("reservation_id"),
                                  expires_at=_datetime(result.get("expires_at")),
                                  promo_price=_decimal(result.get("promo_price")))


def _flash_purchase(txn: Transaction) -> FlashPurchaseResult:
    payload = txn.payload
    return FlashPurchaseResult(**_common(txn, amount=_charged(txn)), promo_id=int(payload["promo_id"]),
                               reservation_id=int(payload["reservation_id"]))


_BUILDERS: dict[str, Callable[[Transaction], TransactionResult]] = {
    KIND_OFFER_ACTIVATION: _offer_activation,
    KIND_OFFER_RENEWAL: _offer_renewal,
    KIND_DISCOUNT_REDEMPTION: _discount_redemption,
    KIND_CODE_CLAIM: _code_claim,
    KIND_FLASH_RESERVATION: _flash_reservation,
    KIND_FLASH_PURCHASE: _flash_purchase,
}

_FINISHED = frozenset({Transaction.Status.SUCCEEDED, Transaction.Status.FAILED})


def transaction_result(txn: Transaction) -> TransactionResult | None:
    """The typed result of a settled (SUCCEEDED or FAILED) offer transaction; None while it is
    pending, once it is reversed, and for kinds that are not the offers' (reversals)."""
    build = _BUILDERS.get(txn.kind)
    if build is None or txn.status not in _FINISHED:
        return None
    return build(txn)


def partner_reference_of(txn: Transaction) -> str | None:
    """The partner's own reference when a partner asked for this activation (any status,
    reversed included); None for the customer's own transactions."""
    if txn.kind != KIND_OFFER_ACTIVATION:
        return None
    context = (txn.payload or {}).get("context")
    return (context.get("reference") or None) if isinstance(context, dict) else None
