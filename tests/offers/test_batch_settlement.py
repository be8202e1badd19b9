"""Offer activations settled as one batch decide and write exactly as the same activations
settled one at a time: the money moving on each account (a balance running out mid-batch),
the same customer activating the same offer twice and three times in one batch (each
extending what the one before wrote), an active subscription extended, an inactive or
deleted offer, a price quoted in another currency, a campaign's discount and its budget
running out; every outcome, balance, ledger row and subscription."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, LedgerEntry
from activation.models import Transaction
from activation.services import transactions_settle
from offers.models import Subscription
from offers.services import KIND_OFFER_ACTIVATION
from tests.campaigns.factories import CampaignFactory
from tests.factories import OfferFactory, customer

pytestmark = pytest.mark.django_db


class World:
    """Customers, offers, a campaign and 16 pending activations in a fixed order; rows are
    described by position (customer index, offer name, activation index), so two worlds with
    different ids compare."""

    def __init__(self, tag: str):
        now = timezone.now()
        self.customers = [customer(username=f"{tag}-c{i}", balance=balance)
                          for i, balance in enumerate(["25.00", "100.00", "100.00", "7.00", "40.00"])]
        self.offers = {
            "basic": OfferFactory(name=f"{tag} basic", price=Decimal("10.00"), validity_days=30),
            "week": OfferFactory(name=f"{tag} week", price=Decimal("3.50"), validity_days=7),
            "off": OfferFactory(name=f"{tag} off", price=Decimal("1.00"), is_active=False),
            "usd": OfferFactory(name=f"{tag} usd", price=Decimal("2.00"), currency="USD"),
        }
        # customer 2 already has an active `week` subscription ending in 3 days
        Subscription.objects.create(user=self.customers[2], offer=self.offers["week"],
                                    started_at=now - timedelta(days=4), expires_at=now + timedelta(days=3))
        # a campaign with budget for two 4.00 discounts
        self.campaign = CampaignFactory(name=f"{tag} promo", value=Decimal("4.00"), total_budget=Decimal("8.00"))
        a = self.activation
        self.txns = [
            a(0, "basic"), a(0, "basic"), a(0, "basic"),           # 25.00: two, then out of money
            a(1, "week"), a(1, "week"), a(1, "week"),              # the same offer three times in one batch
            a(2, "week"), a(2, "basic"),                           # extends the active one
            a(3, "basic"), a(3, "week"),                           # 7.00: not enough for basic, enough for week
            a(4, "off"), a(4, "gone"), a(4, "usd"),                # inactive, deleted, another currency
            a(4, "basic", campaign=True), a(1, "basic", campaign=True), a(2, "basic", campaign=True),  # budget for two
        ]

    def activation(self, who: int, offer: str, campaign: bool = False) -> Transaction:
        if offer == "gone":
            offer_id, price, currency = 999_999_999, Decimal("1.00"), "EUR"
        else:
            o = self.offers[offer]
            offer_id, price, currency = o.id, o.price, ("EUR" if offer == "usd" else o.currency)  # quoted in EUR
        payload = {"offer_id": offer_id, **({"campaign_id": self.campaign.id} if campaign else {})}
        return Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=self.customers[who], payload=payload,
                                          amount=price, currency=currency)

    def _who(self, user_id) -> int:
        return [u.id for u in self.customers].index(user_id)

    def _offer(self, offer_id) -> str:
        return next(name for name, o in self.offers.items() if o.id == offer_id)

    def decisions(self) -> list[tuple]:
        rows = {t.pk: t for t in Transaction.objects.filter(pk__in=[t.pk for t in self.txns])}
        subscriptions = {s.pk: s for s in Subscription.objects.filter(user__in=self.customers)}
        described = []
        for txn in self.txns:
            row = rows[txn.pk]
            result = dict(row.result)
            if "subscription_id" in result:
                subscription = subscriptions[result.pop("subscription_id")]
                result["subscription"] = (self._who(subscription.user_id), self._offer(subscription.offer_id))
                result["offer_id"] = self._offer(result["offer_id"])
                # the end relative to the batch's start: each extension counts, the clock does not
                result["expires_in_days"] = round((timezone.datetime.fromisoformat(result.pop("expires_at"))
                                                   - row.created_at).total_seconds() / 86400)
            result.pop("campaign_id", None)
            described.append((row.status, row.failure_code, result))
        return described

    def state(self) -> dict:
        accounts = {self._who(a.user_id): a.balance for a in Account.objects.filter(user__in=self.customers)}
        ledger = [(self._who(e.account.user_id), e.amount, e.balance_after, e.reason)
                  for e in LedgerEntry.objects.filter(account__user__in=self.customers,
                                                      reason=LedgerEntry.Reason.DEBIT).select_related("account")
                  .order_by("id")]
        subscriptions = sorted((self._who(s.user_id), self._offer(s.offer_id), s.status,
                                round((s.expires_at - timezone.now()).total_seconds() / 86400))
                               for s in Subscription.objects.filter(user__in=self.customers))
        self.campaign.refresh_from_db()
        return {"balances": accounts, "ledger": ledger, "subscriptions": subscriptions,
                "campaign": (self.campaign.spent_amount, self.campaign.uses_count)}


def test_a_batch_of_activations_decides_and_writes_what_settling_them_one_at_a_time_does(settings):
    # given: two identical worlds
    settings.SETTLEMENT_BATCH_SIZE = 64
    one_by_one, batched = World("one"), World("batch")

    # when: one settled item by item, the other as one batch
    for txn in one_by_one.txns:
        transactions_settle(transaction_id=txn.id, batch_size=1)
    with CaptureQueriesContext(connection) as queries:
        settled = transactions_settle(transaction_id=batched.txns[0].id, batch_size=64)

    # then: the same decisions and the same rows
    assert len(settled) == len(batched.txns)
    assert batched.decisions() == one_by_one.decisions()
    assert batched.state() == one_by_one.state()
    # and the expected ones: customer 0 paid twice, customer 1's week runs three periods
    decisions = batched.decisions()
    assert [d[1] for d in decisions[:3]] == ["", "", "insufficient_balance"]
    assert [d[2]["expires_in_days"] for d in decisions[3:6]] == [7, 14, 21]
    assert decisions[6][2]["expires_in_days"] == 10  # 3 days left + 7
    assert [d[1] for d in decisions[8:13]] == ["insufficient_balance", "", "offer_inactive", "offer_inactive",
                                              "currency_mismatch"]
    assert [d[2].get("discount") for d in decisions[13:15]] == ["4.00", "4.00"] and decisions[15][1] != ""
    # the batch's debits went in one statement and its subscriptions in one per round (three)
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum('INSERT INTO "accounts_ledgerentry"' in s or "INSERT INTO accounts_ledgerentry" in s
               for s in statements) == 1
    assert sum("offers_subscription" in s and "ON CONFLICT" in s for s in statements) == 3
