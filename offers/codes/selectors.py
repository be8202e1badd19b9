"""Reads of code pools."""
from django.db.models import QuerySet

from offers.codes.models import Brand, CodePool, DiscountCode


def brand_get(*, brand_id: int) -> Brand | None:
    return Brand.objects.filter(pk=brand_id).first()


def code_pool_claimable_get(*, pool_id: int) -> CodePool | None:
    return CodePool.objects.filter(pk=pool_id).first()


def discount_code_list_for_user(*, user_id: int) -> QuerySet[DiscountCode]:
    return (DiscountCode.objects.filter(claimed_by_id=user_id).select_related("pool", "pool__brand")
            .order_by("-claimed_at"))


def discount_code_export_rows(*, pool: CodePool):
    """code, claimed_by (id, username, email), claimed_at for every code of the pool, in
    code order; streamed with a server-side cursor so a 100k pool never sits in memory."""
    yield ["code", "claimed_by_id", "claimed_by_username", "claimed_by_email", "claimed_at"]
    rows = (DiscountCode.objects.filter(pool=pool).order_by("id")
            .values_list("code", "claimed_by_id", "claimed_by__username", "claimed_by__email", "claimed_at"))
    for code, user_id, username, email, claimed_at in rows.iterator(chunk_size=5000):
        yield [code, user_id or "", username or "", email or "", claimed_at.isoformat() if claimed_at else ""]


def discount_code_get(*, code: str) -> DiscountCode | None:
    """A code as a customer types it (case and surrounding spaces do not matter)."""
    return DiscountCode.objects.select_related("pool").filter(code=code.strip().upper()).first()


def discount_codes_for_checkout(*, code_ids) -> dict[int, DiscountCode]:
    """The codes of a settlement batch with their pools, in one query."""
    code_ids = set(code_ids)
    if not code_ids:
        return {}
    return {code.id: code for code in DiscountCode.objects.select_related("pool").filter(id__in=code_ids)}
