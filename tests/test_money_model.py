"""A model-based test of the money: random sequences of activate, renew, redeem (single and
combined), claim, reserve, complete, lapse, reverse and admin adjustment by several
customers, settled one by one or in batches on the real database, with every invariant
checked after every step (hypothesis.stateful).

Bounded (MODEL_EXAMPLES x MODEL_STEPS) so `make test` stays quick; a deeper run:
`make test ARGS="tests/test_money_model.py" MODEL_EXAMPLES=200 MODEL_STEPS=60` (environment).
"""
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from accounts.models import Account, LedgerEntry
from accounts.services import AdjustmentRefused, account_adjust
from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from kernel.errors import ApplicationError
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.rules import Cart
from offers.campaigns.services import discount_redemption_request
from offers.codes.models import DiscountCode
from offers.codes.services import code_claim_request, code_pool_create
from offers.flash.models import FlashReservation
from offers.flash.services import HoldExpired, flash_reservation_complete, flash_reservation_request
from offers.models import Subscription
from offers.services import offer_activation_request, offer_renewal_request
from tests.campaigns.factories import CampaignFactory, timezone_around_noon
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "10"))
STEPS = int(os.environ.get("MODEL_STEPS", "25"))
CUSTOMERS = 3
CARTS = [("100.00", "8.00"), ("30.00", "0.00")]


class MoneyMachine(RuleBasedStateMachine):
    @initialize()
    def world(self):
        zone = timezone_around_noon()
        segment = SegmentFactory(slug=f"model-{os.urandom(4).hex()}")
        self.users = [customer(balance="60.00", segment=segment, latitude=latitude_north_of_store(1),
                               longitude=STORE_LON) for _ in range(CUSTOMERS)]
        self.staff = customer(is_staff=True)
        self.offer = OfferFactory(price=Decimal("10.00"), validity_days=30)
        self.campaigns = [
            CampaignFactory(value=Decimal("15.00"), total_budget=Decimal("40.00"), max_uses_per_customer_per_day=2,
                            timezone=zone),
            CampaignFactory(kind="percentage", value=Decimal("20"), max_discount_amount=Decimal("12.00"),
                            is_stackable=True, total_budget=Decimal("50.00"), max_total_uses=6, timezone=zone),
            CampaignFactory(value=Decimal("5.00"), target="delivery", is_stackable=True, total_budget=Decimal("30.00"),
                            timezone=zone),
        ]
        self.pool = code_pool_create(brand=BrandFactory(), name="model", total_count=2)
        self.promo = running_promo(segments=[segment], quantity=2)
        self.pending: list = []
        # What the ledger must say: the funding and the operators' adjustments; charges and
        # refunds are checked from the transactions themselves.
        self.credited = {u.id: Decimal("60.00") for u in self.users}

    # --- requests (accepted PENDING, settled by `settle`) ---------------------------------------

    @rule(who=st.integers(0, CUSTOMERS - 1), with_campaign=st.booleans())
    def activate(self, who, with_campaign):
        accepted = offer_activation_request(user_id=self.users[who].id, offer=self.offer, idempotency_key=None,
                                            campaign_id=self.campaigns[0].id if with_campaign else None)
        self.pending.append(accepted.transaction.id)

    @rule(who=st.integers(0, CUSTOMERS - 1))
    def renew(self, who):
        subscription = Subscription.objects.filter(user=self.users[who]).exclude(status="cancelled").first()
        if subscription is not None:
            self.pending.append(offer_renewal_request(user_id=self.users[who].id, subscription=subscription,
                                                      idempotency_key=None).transaction.id)

    @rule(who=st.integers(0, CUSTOMERS - 1), campaigns=st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
          order=st.sampled_from(["o1", "o2", "o3"]), cart=st.sampled_from(CARTS))
    def redeem(self, who, campaigns, order, cart):
        accepted = discount_redemption_request(
            user_id=self.users[who].id, campaign_ids=[self.campaigns[i].id for i in campaigns],
            cart=Cart(cart_value=Decimal(cart[0]), delivery_charge=Decimal(cart[1]), currency="EUR"),
            order_reference=order, idempotency_key=None)
        self.pending.append(accepted.transaction.id)

    @rule(who=st.integers(0, CUSTOMERS - 1))
    def claim(self, who):
        self.pending.append(code_claim_request(user_id=self.users[who].id, pool=self.pool,
                                               idempotency_key=None).transaction.id)

    @rule(who=st.integers(0, CUSTOMERS - 1))
    def reserve(self, who):
        self.pending.append(flash_reservation_request(user_id=self.users[who].id, promo=self.promo,
                                                      idempotency_key=None).transaction.id)

    @precondition(lambda self: self.pending)
    @rule(batch=st.sampled_from([1, 50]))
    def settle(self, batch):
        while self.pending:
            transactions_settle(transaction_id=self.pending[0], batch_size=batch)
            self.pending = list(Transaction.objects.filter(pk__in=self.pending, status__in=["PENDING", "PROCESSING"])
                                .values_list("pk", flat=True))

    # --- synchronous actions -------------------------------------------------------------------

    @rule(who=st.integers(0, CUSTOMERS - 1))
    def complete(self, who):
        held = FlashReservation.objects.filter(user=self.users[who], promo=self.promo, status="held").first()
        if held is not None:
            try:
                flash_reservation_complete(user_id=self.users[who].id, reservation_id=held.id)
            except HoldExpired:
                pass

    @rule()
    def lapse(self):
        FlashReservation.objects.filter(promo=self.promo, status="held").update(
            expires_at=timezone.now() - timedelta(seconds=1))

    @rule(pick=st.integers(0, 10_000), as_staff=st.booleans())
    def reverse(self, pick, as_staff):
        succeeded = list(Transaction.objects.filter(user__in=self.users, status="SUCCEEDED")
                         .exclude(kind__endswith="_reversal").order_by("created_at").values_list("pk", "user_id"))
        if not succeeded:
            return
        transaction_id, user_id = succeeded[pick % len(succeeded)]
        try:
            transaction_reverse(transaction_id=transaction_id, requested_by_id=self.staff.id if as_staff else user_id,
                                as_staff=as_staff)
        except ApplicationError:
            pass  # a refusal (not permitted, a bought hold) changes nothing; the invariants say so

    @rule(who=st.integers(0, CUSTOMERS - 1), amount=st.sampled_from(["-25.00", "-5.00", "7.50", "20.00"]))
    def adjust(self, who, amount):
        try:
            account_adjust(user_id=self.users[who].id, amount=Decimal(amount), reason="model", operator_id=self.staff.id)
            self.credited[self.users[who].id] += Decimal(amount)
        except AdjustmentRefused:
            pass

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def balances_match_ledger_and_transactions(self):
        if not hasattr(self, "users"):
            return
        for user in self.users:
            account = Account.objects.get(user=user)
            ledger = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
            assert account.balance == ledger >= 0
            live = Transaction.objects.filter(user=user, status="SUCCEEDED")
            charged = sum((Decimal(t.result.get("amount_charged", "0")) for t in live
                           if t.kind in ("offer_activation", "offer_renewal", "flash_purchase")), Decimal("0"))
            assert account.balance == self.credited[user.id] - charged

    @invariant()
    def campaigns_match_their_redemptions(self):
        for campaign in Campaign.objects.filter(pk__in=[c.pk for c in getattr(self, "campaigns", [])]):
            live = CampaignRedemption.objects.filter(campaign=campaign, reversed_at=None)
            assert campaign.spent_amount == (live.aggregate(s=Sum("amount"))["s"] or 0) <= campaign.total_budget
            assert campaign.uses_count == live.count() <= (campaign.max_total_uses or 10**9)
            if campaign.max_uses_per_customer_per_day:
                per_day = (CampaignRedemption.objects.filter(campaign=campaign)
                           .filter(Q(reversed_at=None) | Q(reversal_keeps_daily_use=True))
                           .values("user_id", "local_day").annotate(n=Count("id")))
                assert all(row["n"] <= campaign.max_uses_per_customer_per_day for row in per_day)

    @invariant()
    def orders_stay_within_their_base(self):
        if not hasattr(self, "users"):
            return
        rows = (CampaignRedemption.objects.filter(user__in=self.users, reversed_at=None)
                .values("user_id", "order_reference", "campaign__target", "cart_value", "delivery_charge")
                .annotate(total=Sum("amount"), exclusive=Count("id", filter=Q(campaign__is_stackable=False)),
                          n=Count("id")))
        for row in rows:
            base = row["cart_value"] if row["campaign__target"] == "cart" else row["delivery_charge"]
            assert row["total"] <= base
        per_order = {}
        for row in rows:
            key = (row["user_id"], row["order_reference"])
            exclusive, n = per_order.get(key, (0, 0))
            per_order[key] = (exclusive + row["exclusive"], n + row["n"])
        assert all(exclusive == 0 or n == 1 for exclusive, n in per_order.values())

    @invariant()
    def codes_and_units_never_oversold(self):
        if not hasattr(self, "pool"):
            return
        self.pool.refresh_from_db()
        claimed = DiscountCode.objects.filter(pool=self.pool, claimed_by__isnull=False)
        assert self.pool.claimed_count == claimed.count() <= self.pool.total_count
        assert claimed.values("claimed_by").distinct().count() == claimed.count()
        taken = FlashReservation.objects.filter(promo=self.promo).filter(
            Q(status="completed") | Q(status="held", expires_at__gt=timezone.now()))
        assert taken.count() <= self.promo.quantity
        assert all(row["n"] <= self.promo.max_units_per_customer
                   for row in taken.values("user_id").annotate(n=Count("id")))


@pytest.mark.django_db
def test_money_is_never_wrong_on_any_sequence_of_operations():
    MoneyMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                              suppress_health_check=list(HealthCheck), database=None)
    MoneyMachine.TestCase().runTest()
