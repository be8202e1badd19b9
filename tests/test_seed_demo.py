"""`seed_demo` creates a demo of every area, idempotently."""
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from offers.campaigns.models import Campaign
from offers.codes.models import CodePool
from offers.flash.selectors import flash_promo_list_eligible
from partners.models import Partner, PartnerCustomerLink


@pytest.mark.django_db
def test_seed_demo_creates_every_area_once():
    # when: run twice
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)

    # then: everything once, the partner's secret printed once
    assert "secret" in first.getvalue() and "secret" not in second.getvalue()
    assert "created" not in second.getvalue()
    assert set(User.objects.values_list("username", flat=True)) >= {"alice", "bob", "operator", "merchant"}
    assert {(c.target, c.kind) for c in Campaign.objects.all()} == {
        ("cart", "percentage"), ("cart", "flat"), ("delivery", "flat")}
    assert Campaign.objects.filter(is_targeted=True).exists() and Campaign.objects.filter(brand__isnull=False).exists()
    merchant = User.objects.get(username="merchant")
    assert not merchant.is_staff and merchant.brands.count() == 1
    pool = CodePool.objects.get()
    assert pool.campaign is not None and pool.codes.count() == pool.total_count == 100
    alice = User.objects.get(username="alice")
    assert len(flash_promo_list_eligible(user_id=alice.id, now=timezone.now())) == 1
    assert PartnerCustomerLink.objects.filter(partner=Partner.objects.get(), customer=alice).exists()
