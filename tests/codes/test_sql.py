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
