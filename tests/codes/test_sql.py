"""offers/codes/sql.py writes the code rows the ORM would."""
import pytest

from offers.codes.models import CodePool, DiscountCode
from offers.codes.sql import discount_codes_insert
from tests.codes.factories import BrandFactory

pytestmark = pytest.mark.django_db


def _fields(instance, *, leave_out=()) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields
            if field.attname not in leave_out}


def test_codes_are_inserted_as_the_orm_would_and_a_taken_code_is_skipped():
    # given: a pool, and a code the ORM created in it
    pool = CodePool.objects.create(brand=BrandFactory(), name="spring", total_count=10)
    orm = DiscountCode.objects.create(pool=pool, code="ORM00001")

    # when: three codes inserted by the statement, one of them already taken
    inserted = discount_codes_insert(["RAW00001", "RAW00002", "ORM00001"], pool_id=pool.id)

    # then: two new rows, unclaimed like the ORM's; the taken one untouched
    assert inserted == 2
    raw = DiscountCode.objects.get(code="RAW00001")
    assert _fields(raw, leave_out=("id", "code")) == _fields(orm, leave_out=("id", "code"))
    assert DiscountCode.objects.filter(pool=pool).count() == 3


def test_claimed_codes_are_written_as_the_orm_would_lowest_free_id_first():
    # given: a pool of four codes, the first claimed through the ORM
    from uuid import uuid4

    from django.utils import timezone

    from offers.codes.sql import discount_codes_claim
    from tests.factories import customer

    pool = CodePool.objects.create(brand=BrandFactory(), name="claims", total_count=4)
    discount_codes_insert(["CLM00001", "CLM00002", "CLM00003", "CLM00004"], pool_id=pool.id)
    first, second, third, fourth = DiscountCode.objects.filter(pool=pool).order_by("id")
    alice, bob, carol, granter = customer(), customer(), customer(), customer()
    at = timezone.now()
    first.claimed_by_id, first.claimed_at, first.claim_transaction_id, first.granted_by_id = alice.id, at, uuid4(), None
    first.save()
    claims = [(bob.id, uuid4(), granter.id), (carol.id, uuid4(), None), (granter.id, uuid4(), None),
              (customer().id, uuid4(), None)]

    # when: four claims for the three codes left, with the floor past none of them
    taken = discount_codes_claim(pool_id=pool.id, floor_id=0, claims=claims, at=at)

    # then: the lowest free ids in order, the fourth claim got none, and the rows read as the ORM writes them
    assert taken == [(second.id, "CLM00002"), (third.id, "CLM00003"), (fourth.id, "CLM00004"), None]
    second.refresh_from_db()
    assert (second.claimed_by_id, second.claimed_at, second.claim_transaction_id, second.granted_by_id) == (
        bob.id, at, claims[0][1], granter.id)
    third.refresh_from_db()
    assert (third.claimed_by_id, third.granted_by_id, third.used_at) == (carol.id, None, None)
    first.refresh_from_db()
    assert first.claimed_by_id == alice.id
