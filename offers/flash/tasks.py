"""Thin tasks: ids in, one service call. acks_late: every service here is idempotent."""
from celery import shared_task

from kernel.tasks import DATABASE_RETRY_POLICY


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def flash_promo_holds_expire_task(promo_id: str, due: str) -> int:
    from datetime import datetime

    from offers.flash.services import flash_promo_holds_expire

    return flash_promo_holds_expire(promo_id=int(promo_id), due=datetime.fromisoformat(due))


@shared_task(acks_late=True)
def flash_reservations_expire_lapsed_task() -> int:
    from offers.flash.services import flash_reservations_expire_lapsed

    return flash_reservations_expire_lapsed()


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def flash_promo_start_fanout_task(promo_id: str, starts_at: str | None = None) -> int:
    from django.utils.dateparse import parse_datetime

    from offers.flash.services import flash_promo_start_fanout

    return flash_promo_start_fanout(promo_id=int(promo_id),
                                    expected_starts_at=parse_datetime(starts_at) if starts_at else None)


@shared_task(acks_late=True, **DATABASE_RETRY_POLICY)
def flash_promo_start_fanout_chunk_task(promo_id: str, user_ids: list[int]) -> int:
    from offers.flash.services import flash_promo_notices_write

    return flash_promo_notices_write(promo_id=int(promo_id), user_ids=[int(u) for u in user_ids])


@shared_task(acks_late=True)
def flash_promos_start_due_task() -> int:
    from offers.flash.services import flash_promos_start_due

    return flash_promos_start_due()
