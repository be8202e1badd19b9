"""The rows offer transactions lock, as the engine's lock targets (its fixed order: account,
campaign, code pool, flash promo; primary-key order within a rank), and the `<model>_for_update()`
querysets every offer service that locks a row takes it through."""
from django.db.models import QuerySet

from accounts.models import Account
from activation.registry import LockTarget
from offers.campaigns.models import Campaign
from offers.codes.models import Brand, CodePool
from offers.flash.models import FlashPromo

# The order every offer transaction locks its rows in (the engine sorts its targets by rank).
LOCK_RANK_ACCOUNT = 10
LOCK_RANK_CAMPAIGN = 20
LOCK_RANK_CODE_POOL = 30
LOCK_RANK_FLASH_PROMO = 40


def account_lock_target(user_id: int) -> LockTarget:
    """The customer's account: it serialises everything that moves their money, and the
    redemptions of their orders."""
    return LockTarget(rank=LOCK_RANK_ACCOUNT, model=Account, field="user_id", value=user_id)


def campaign_lock_target(campaign_id: int) -> LockTarget:
    return LockTarget(rank=LOCK_RANK_CAMPAIGN, model=Campaign, field="id", value=campaign_id)


def code_pool_lock_target(pool_id: int) -> LockTarget:
    return LockTarget(rank=LOCK_RANK_CODE_POOL, model=CodePool, field="id", value=pool_id)


def flash_promo_lock_target(promo_id: int) -> LockTarget:
    return LockTarget(rank=LOCK_RANK_FLASH_PROMO, model=FlashPromo, field="id", value=promo_id)


# Row locks the offer services take themselves (outside the engine's lock targets): ordered by
# primary key, so two services locking several rows of a model take them in one order.

def campaign_for_update() -> QuerySet[Campaign]:
    return Campaign.objects.select_for_update().order_by("pk")


def brand_for_update() -> QuerySet[Brand]:
    return Brand.objects.select_for_update().order_by("pk")


def code_pool_for_update() -> QuerySet[CodePool]:
    return CodePool.objects.select_for_update().order_by("pk")


def flash_promo_for_update() -> QuerySet[FlashPromo]:
    """A promo's row lock serialises its holds and purchases (units left stays exact)."""
    return FlashPromo.objects.select_for_update().order_by("pk")
