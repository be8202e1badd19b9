"""Realistic rows for the schema fuzz: every kind of row a response can show, so that the
documented schemas meet real values (nulls, empty strings, results of every kind), not an
empty database. The catalogue is made through the services; every transaction is submitted
over HTTP to the live web process and settled by the live worker, as a client would."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import requests
from django.utils import timezone

from accounts.models import CustomerProfile, Segment, User
from accounts.services import customer_deactivate, profile_update, segment_create
from activation.models import Transaction
from notifications.models import Notification
from offers.campaigns.models import Campaign
from offers.campaigns.services import campaign_create
from offers.codes.models import Brand, CodePool, DiscountCode
from offers.codes.services import brand_create, code_pool_create
from offers.flash.models import FlashPromo, FlashReservation, Product, Store
from offers.flash.services import flash_promo_create, product_create, store_create
from offers.models import Offer, Subscription
from partners.models import CallbackDelivery, PartnerActivation
from partners.services import Credentials
from tests.factories import OfferFactory, bearer, customer
from tests.helpers import wait_until_terminal
from tests.partners.signing import ACTIVATE, body_of, partner, reverse_path, signed_headers

API = "/api/v1"
# Near the store below (about 1 km): within every promo's radius.
HOME = {"latitude": Decimal("48.856600"), "longitude": Decimal("2.352200")}
STORE = {"latitude": Decimal("48.860600"), "longitude": Decimal("2.337600")}


@dataclass
class FuzzRows:
    customer: User
    staff: User
    partner: Credentials
    # Operation path (as the schema names it) → path parameters that name real rows.
    known: dict[str, list[dict]] = field(default_factory=dict)


class Client:
    """One user's HTTP calls to the live web process."""

    def __init__(self, base_url: str, user: User):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = bearer(user)

    def post(self, path: str, body: dict | None = None, expect: int = 202) -> dict:
        response = self.session.post(f"{self.base_url}{API}{path}", json=body or {}, timeout=15)
        assert response.status_code == expect, f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    def patch(self, path: str, body: dict) -> dict:
        response = self.session.patch(f"{self.base_url}{API}{path}", json=body, timeout=15)
        assert response.status_code == 200, f"PATCH {path}: {response.status_code} {response.text}"
        return response.json()

    def submit(self, path: str, body: dict | None = None) -> str:
        return self.post(path, body)["transaction_id"]


def fuzz_rows_seed(base_url: str, *, callback_url: str) -> FuzzRows:
    """A customer and a staff member who both use every feature, a partner linked to the
    customer, and the catalogue around them."""
    now = timezone.now()
    today = now.date()
    premium = segment_create(slug="premium", name="Premium", description="Best customers")
    segment_create(slug="students", name="Students")  # targeted by nothing: deletable
    alice = customer(balance="500.00", username="fuzz-alice", phone="+33600000001", first_name="Alice",
                     segment=premium, timezone="Europe/Paris", **HOME)
    staff = customer(balance="500.00", username="fuzz-staff", phone="+33600000002", segment=premium,
                     is_staff=True, **HOME)
    bob = customer(balance="20.00", username="fuzz-bob", email=None, phone="+33600000003")
    gone = customer(username="fuzz-gone")
    customer_deactivate(user_id=gone.id, operator_id=staff.id)
    merchant = customer(username="fuzz-merchant")

    # the catalogue
    monthly = OfferFactory(name="Fibre", description="1 Gbit/s", price=Decimal("29.90"), validity_days=30)
    weekend = OfferFactory(name="Weekend pass", category=Offer.Category.MOBILE, price=Decimal("4.99"),
                           validity_days=3)
    tv = OfferFactory(name="TV", category=Offer.Category.TV, price=Decimal("9.90"))
    luxury = OfferFactory(name="Everything", category=Offer.Category.BUNDLE, price=Decimal("9999.00"))
    OfferFactory(name="Retired", is_active=False)
    OfferFactory(name="Dollar plan", currency="USD")

    brand = brand_create(name="Acme", staff_ids=[merchant.id], operator_id=staff.id)
    brand_create(name="Empty brand", operator_id=staff.id)
    window = {"starts_on": today - timedelta(days=1), "ends_on": today + timedelta(days=30)}
    cart = campaign_create(name="10% off", target="cart", kind="percentage", value=Decimal("10"),
                           max_discount_amount=Decimal("15.00"), total_budget=Decimal("1000.00"),
                           max_uses_per_customer_per_day=5, status=Campaign.Status.ACTIVE,
                           timezone="Europe/Paris", **window)
    delivery = campaign_create(name="Free delivery", target="delivery", kind="flat", value=Decimal("5.00"),
                               min_cart_value=Decimal("20.00"), total_budget=Decimal("200.00"), is_stackable=True,
                               status=Campaign.Status.ACTIVE, **window)
    campaign_create(name="Premium 15%", target="cart", kind="percentage", value=Decimal("15"),
                    total_budget=Decimal("500.00"), is_targeted=True, target_segments=[premium],
                    target_customers=[alice], priority=10, status=Campaign.Status.ACTIVE, **window)
    code_campaign = campaign_create(name="Acme code", target="cart", kind="flat", value=Decimal("5.00"),
                                    total_budget=Decimal("500.00"), brand=brand, requires_code=True,
                                    is_stackable=True, status=Campaign.Status.ACTIVE, **window)
    campaign_create(name="Draft", target="cart", kind="flat", value=Decimal("1.00"), total_budget=Decimal("10.00"),
                    **window)
    campaign_create(name="Last year", target="cart", kind="flat", value=Decimal("2.00"),
                    total_budget=Decimal("10.00"), status=Campaign.Status.ENDED,
                    starts_on=today - timedelta(days=400), ends_on=today - timedelta(days=300))

    pool = code_pool_create(brand=brand, name="Launch codes", total_count=20, description="5 off",
                            valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=30),
                            created_by_id=staff.id)
    pool.campaign = code_campaign
    pool.save(update_fields=["campaign"])
    open_ended = code_pool_create(brand=brand, name="Open-ended", total_count=5)  # no validity window
    # A campaign a pool carries but nobody has redeemed yet.
    open_ended.campaign = campaign_create(name="Acme welcome code", target="cart", kind="flat", value=Decimal("2.00"),
                                          total_budget=Decimal("100.00"), brand=brand, requires_code=True,
                                          status=Campaign.Status.ACTIVE, **window)
    open_ended.save(update_fields=["campaign"])
    code_pool_create(brand=brand, name="No discount", total_count=2)
    scarce = code_pool_create(brand=brand, name="Scarce", total_count=1, valid_until=now + timedelta(days=1))
    code_pool_create(brand=brand, name="Not yet", total_count=3, valid_from=now + timedelta(days=10))

    store = store_create(name="Acme Rivoli", address="1 rue de Rivoli", brand=brand, **STORE)
    platform_store = store_create(name="Platform kiosk", **STORE)
    headphones = product_create(store=store, name="Headphones", regular_price=Decimal("99.00"))
    product_create(store=platform_store, name="Cable", regular_price=Decimal("9.00"), currency="USD")
    promo = flash_promo_create(product=headphones, promo_price=Decimal("49.00"), starts_at=now - timedelta(minutes=5),
                               ends_at=now + timedelta(days=1), segments=[premium], radius_km=Decimal("5"),
                               quantity=50, max_units_per_customer=3, hold_seconds=3600)
    flash_promo_create(product=headphones, promo_price=Decimal("59.00"), starts_at=now + timedelta(days=2),
                       ends_at=now + timedelta(days=3), segments=[premium], radius_km=Decimal("1.5"), quantity=10)
    far_away = flash_promo_create(product=headphones, promo_price=Decimal("39.00"),
                                  starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(days=1),
                                  segments=[Segment.objects.get(slug="students")], radius_km=Decimal("0.5"),
                                  quantity=5)

    credentials = partner(name="Fuzz partner", callback_url=callback_url, customers=[alice])

    # the transactions: each of alice's and staff's, then the partner's for alice
    scarce_claim = Client(base_url, bob).submit(f"/codes/pools/{scarce.id}/claim/")
    wait_until_terminal([scarce_claim])
    for user in (alice, staff):
        _customer_journey(Client(base_url, user), user, offers=(monthly, weekend, tv, luxury), cart=cart,
                          delivery=delivery, pools=(pool, open_ended, scarce), promo=promo, far_away=far_away)
    Client(base_url, staff).post(f"/codes/pools/{pool.id}/grant/", {"customer": str(bob.id)})
    _partner_activations(base_url, credentials, alice, offers=(monthly, tv, luxury))
    staff_client = Client(base_url, staff)
    activation = Transaction.objects.filter(user=alice, kind="offer_activation", status="SUCCEEDED",
                                            payload__offer_id=weekend.id).first()
    staff_client.post(f"/account/transactions/{activation.id}/reverse/", expect=200)
    wait_until_terminal(Transaction.objects.filter(status__in=["PENDING", "PROCESSING"]).values_list("id", flat=True))
    # Written by the workers after settlement (the outbox drain). A delivery may still be
    # pending: its message can come after the fuzz, or from the sweep.
    _wait_for("in-app notifications", lambda: all(
        Notification.objects.filter(user=user, channel="in_app").exists() for user in (alice, staff)))
    _wait_for("callback deliveries (3 settled, 1 reversed)",
              lambda: CallbackDelivery.objects.filter(partner=credentials.partner).count() >= 4)
    first_news = Notification.objects.filter(user=alice, channel="in_app").order_by("id").first()
    Client(base_url, alice).post(f"/notifications/{first_news.id}/read/", expect=200)
    rows = FuzzRows(customer=alice, staff=staff, partner=credentials)
    rows.known = known_path_parameters()
    return rows


def _customer_journey(client: Client, user: User, *, offers, cart, delivery, pools, promo, far_away) -> None:
    monthly, weekend, tv, luxury = offers
    pool, open_ended, scarce = pools
    order = f"order-{user.id}"
    redemption = client.submit("/discounts/redeem/", {"campaign_id": cart.id, "cart_value": "80.00",
                                                       "order_reference": f"{order}-1"})
    first = [
        redemption,
        client.submit("/activation/", {"offer_id": monthly.id}),
        client.submit("/activation/", {"offer_id": weekend.id}),
        client.submit("/activation/", {"offer_id": tv.id, "campaign_id": cart.id}),
        client.submit("/activation/", {"offer_id": luxury.id}),  # insufficient balance
        client.submit(f"/codes/pools/{pool.id}/claim/"),
        client.submit(f"/codes/pools/{open_ended.id}/claim/"),
        client.submit(f"/codes/pools/{scarce.id}/claim/"),  # sold out
        client.submit("/discounts/redeem/", {"campaign_ids": [delivery.id], "cart_value": "10.00",  # below minimum
                                             "delivery_charge": "4.90", "order_reference": f"{order}-2"}),
        client.submit("/promotions/reservations/", {"promo_id": promo.id}),
        client.submit("/promotions/reservations/", {"promo_id": promo.id}),
        client.submit("/promotions/reservations/", {"promo_id": far_away.id}),  # not eligible
    ]
    wait_until_terminal(first)
    code = DiscountCode.objects.get(pool=pool, claimed_by=user).code
    subscription = Subscription.objects.filter(user=user, offer=monthly).get()
    second = [
        client.submit("/discounts/redeem/", {"code": code, "cart_value": "40.00", "delivery_charge": "3.00",
                                             "order_reference": f"{order}-3"}),
        client.submit("/offers/renew/", {"subscription_id": subscription.id}),
    ]
    wait_until_terminal(second)
    held = FlashReservation.objects.filter(user=user, status=FlashReservation.Status.HELD).order_by("id").first()
    client.post(f"/promotions/reservations/{held.id}/complete/", expect=200)
    client.post(f"/account/transactions/{redemption}/reverse/", expect=200)
    client.patch(f"/account/subscriptions/{subscription.id}/", {"auto_renew": True})
    tv_subscription = Subscription.objects.get(user=user, offer=tv)
    client.post(f"/account/subscriptions/{tv_subscription.id}/cancel/", expect=200)


def _partner_activations(base_url: str, credentials: Credentials, alice: User, *, offers) -> None:
    monthly, tv, luxury = offers

    def signed_post(path: str, data: dict | None) -> requests.Response:
        body = body_of(data) if data is not None else b""
        headers = signed_headers(credentials, "POST", path, body)
        response = requests.post(f"{base_url}{path}", data=body, headers=headers, timeout=15)
        assert response.status_code in (200, 202), response.text
        return response

    ids = [signed_post(ACTIVATE, {"reference": reference, "customer": alice.email, "offer_id": offer.id})
           .json()["transaction_id"] for reference, offer in (("P-1", monthly), ("P-2", tv), ("P-3", luxury))]
    wait_until_terminal(ids)
    signed_post(reverse_path("P-2"), None)


def _wait_for(what: str, arrived, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not arrived():
        assert time.monotonic() < deadline, f"no {what} after {timeout}s"
        time.sleep(0.2)


def known_path_parameters() -> dict[str, list[dict]]:
    """Path parameters of the rows in the database, by operation path: fuzzed requests also
    name real rows (another user's among them), not only ids nobody has."""
    def ids(queryset, name: str = "id") -> list[dict]:
        return [{name: value} for value in queryset.order_by("pk").values_list("pk", flat=True)]

    transactions = [{"transaction_id": str(pk)} for pk in Transaction.objects.values_list("pk", flat=True)]
    references = [{"reference": r} for r in PartnerActivation.objects.values_list("reference", flat=True)]
    customers = ids(User.objects.filter(is_staff=False))
    known = {
        "/account/transactions/{transaction_id}/": transactions,
        "/account/transactions/{transaction_id}/reverse/": transactions,
        "/activation/status/{transaction_id}/": transactions,
        "/account/subscriptions/{id}/": ids(Subscription.objects),
        "/account/subscriptions/{id}/cancel/": ids(Subscription.objects),
        "/brands/{id}/": ids(Brand.objects),
        "/brands/{id}/members/": ids(Brand.objects),
        "/brands/{id}/members/{user_id}/": [{"id": brand_id, "user_id": user_id} for brand_id, user_id
                                            in Brand.staff.through.objects.values_list("brand_id", "user_id")],
        "/campaigns/{id}/": ids(Campaign.objects),
        "/campaigns/{id}/status/": ids(Campaign.objects),
        "/codes/pools/{id}/": ids(CodePool.objects),
        "/codes/pools/{id}/claim/": ids(CodePool.objects),
        "/codes/pools/{id}/export.csv": ids(CodePool.objects),
        "/codes/pools/{id}/grant/": ids(CodePool.objects),
        "/customers/{id}/": customers,
        "/customers/{id}/deactivate/": customers,
        "/customers/{id}/top-up/": customers,
        "/market/products/{id}/": ids(Product.objects),
        "/market/stores/{id}/": ids(Store.objects),
        "/notifications/{id}/read/": ids(Notification.objects.filter(channel="in_app")),
        "/offers/{id}/": ids(Offer.objects),
        "/promotions/flash-promos/{id}/": ids(FlashPromo.objects),
        "/promotions/reservations/{id}/complete/": ids(FlashReservation.objects),
        "/users/profiles/{id}/": ids(CustomerProfile.objects),
        "/users/segments/{id}/": ids(Segment.objects),
        "/partner/validate/{reference}/": references,
        "/partner/reverse/{reference}/": references,
    }
    return known
