"""Demo data for local runs: idempotent, shows progress, refused under production settings."""
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Segment, User
from accounts.services import account_top_up, customer_create
from offers.models import Offer

DEMO_PASSWORD = "demo-pass"
SEGMENTS = [("students", "Students"), ("premium", "Premium customers")]
CUSTOMERS = [
    # username, email, phone, segment, balance, lat, lon
    ("alice", "alice@example.com", "+5511990000001", "premium", Decimal("200.00"), Decimal("-23.550520"), Decimal("-46.633308")),
    ("bob", "bob@example.com", "+5511990000002", "students", Decimal("50.00"), Decimal("-23.561684"), Decimal("-46.655981")),
]
OFFERS = [
    ("Fibre 500", "500 Mbit/s home Internet", Offer.Category.INTERNET, Decimal("29.90"), 30),
    ("TV Plus", "120 channels + replay", Offer.Category.TV, Decimal("19.90"), 30),
    ("Mobile 20GB", "20 GB data, unlimited calls", Offer.Category.MOBILE, Decimal("14.90"), 30),
    ("Home Bundle", "Fibre 500 + TV Plus + Mobile 20GB", Offer.Category.BUNDLE, Decimal("54.90"), 30),
    ("Weekend Data Pass", "10 GB for 3 days", Offer.Category.MOBILE, Decimal("4.99"), 3),
]


class Command(BaseCommand):
    help = ("Creates a demo of every area: users (password demo-pass), segments, offers, campaigns of each "
            "kind, a brand with a member, store, product, flash promo, code pool, and a partner. Safe to run twice.")

    def handle(self, *args, **options):
        if not settings.ALLOW_DEMO_DATA:
            raise CommandError("seed_demo is refused under production settings (it creates known passwords).")
        with transaction.atomic():
            segments = {}
            for slug, name in SEGMENTS:
                segments[slug], created = Segment.objects.get_or_create(slug=slug, defaults={"name": name})
                self._step(f"segment {slug}", created)
            for username, email, phone, segment, balance, lat, lon in CUSTOMERS:
                created = not User.objects.filter(username=username).exists()
                if created:
                    user = customer_create(username=username, password=DEMO_PASSWORD, email=email, phone=phone,
                                           segment=segments[segment], latitude=lat, longitude=lon,
                                           timezone="America/Sao_Paulo")
                    account_top_up(user=user, amount=balance, description="demo balance")
                self._step(f"customer {username} (balance {balance} {settings.DEFAULT_CURRENCY})", created)
            created = not User.objects.filter(username="operator").exists()
            if created:
                operator = customer_create(username="operator", password=DEMO_PASSWORD,
                                           email="operator@example.com", is_staff=True)
                operator.is_superuser = True
                operator.save(update_fields=["is_superuser"])
            self._step("staff operator (Django admin superuser)", created)
            for name, description, category, price, days in OFFERS:
                _, created = Offer.objects.get_or_create(
                    name=name, defaults={"description": description, "category": category, "price": price,
                                         "validity_days": days})
                self._step(f"offer {name}", created)
        self._campaigns()
        self._merchant()
        if apps.is_installed("partners"):
            call_command("seed_demo_partner", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"demo data ready; password for every demo user: {DEMO_PASSWORD}"))

    def _campaigns(self) -> None:
        from datetime import timedelta

        from django.utils import timezone

        from offers.campaigns.models import Campaign

        today = timezone.now().date()
        premium = Segment.objects.get(slug="premium")
        for name, fields in [
            # cart percentage, exclusive, capped, daily limit
            ("Welcome 10%", {"target": "cart", "kind": "percentage", "value": Decimal("10"),
                             "max_discount_amount": Decimal("15.00"), "total_budget": Decimal("1000.00"),
                             "max_uses_per_customer_per_day": 2}),
            # delivery flat, stackable, minimum cart
            ("Free delivery", {"target": "delivery", "kind": "flat", "value": Decimal("5.00"),
                               "total_budget": Decimal("200.00"), "is_stackable": True,
                               "min_cart_value": Decimal("20.00")}),
            # cart flat, stackable, limited total uses
            ("3 off, stacks", {"target": "cart", "kind": "flat", "value": Decimal("3.00"),
                               "total_budget": Decimal("300.00"), "is_stackable": True, "max_total_uses": 100}),
            # targeted at a segment
            ("Premium 15%", {"target": "cart", "kind": "percentage", "value": Decimal("15"),
                             "total_budget": Decimal("500.00"), "is_targeted": True, "priority": 10}),
        ]:
            campaign, created = Campaign.objects.get_or_create(
                name=name, defaults={**fields, "starts_on": today - timedelta(days=1),
                                     "ends_on": today + timedelta(days=60), "timezone": "America/Sao_Paulo",
                                     "status": Campaign.Status.ACTIVE})
            if created and campaign.is_targeted:
                campaign.target_segments.set([premium])
            self._step(f"campaign {name}", created)

    def _merchant(self) -> None:
        """A brand with a member, a store near alice, a product with a running flash promo for
        premium customers, and a code pool whose codes give the brand's discount."""
        from datetime import timedelta

        from django.utils import timezone

        from offers.campaigns.models import Campaign
        from offers.codes.models import Brand, CodePool
        from offers.codes.services import code_pool_create
        from offers.flash.models import FlashPromo, Product, Store
        from offers.flash.services import flash_promo_create

        now, today = timezone.now(), timezone.now().date()
        brand, created = Brand.objects.get_or_create(name="Acme Stores")
        self._step("brand Acme Stores", created)
        if not User.objects.filter(username="merchant").exists():
            brand.staff.add(customer_create(username="merchant", password=DEMO_PASSWORD, email="merchant@example.com"))
            self._step("merchant (member of Acme Stores, not platform staff)", True)
        else:
            self._step("merchant (member of Acme Stores, not platform staff)", False)
        store, created = Store.objects.get_or_create(
            name="Acme Paulista", defaults={"address": "Av. Paulista 1000, São Paulo", "brand": brand,
                                            "latitude": Decimal("-23.561414"), "longitude": Decimal("-46.655881")})
        self._step("store Acme Paulista (2.6 km from alice)", created)
        product, created = Product.objects.get_or_create(
            name="Headphones X", store=store, defaults={"regular_price": Decimal("99.00")})
        self._step("product Headphones X", created)
        if not FlashPromo.objects.filter(product=product).exists():
            flash_promo_create(product=product, promo_price=Decimal("49.00"), starts_at=now - timedelta(minutes=1),
                               ends_at=now + timedelta(days=30), segments=[Segment.objects.get(slug="premium")],
                               radius_km=Decimal("5"), quantity=50, hold_seconds=120)
            self._step("flash promo Headphones X at 49.00 (premium, 5 km, 50 units)", True)
        else:
            self._step("flash promo Headphones X at 49.00 (premium, 5 km, 50 units)", False)
        discount, created = Campaign.objects.get_or_create(
            name="Acme code: 5 off", defaults={"target": "cart", "kind": "flat", "value": Decimal("5.00"),
                                               "total_budget": Decimal("500.00"), "brand": brand, "requires_code": True,
                                               "starts_on": today - timedelta(days=1),
                                               "ends_on": today + timedelta(days=60),
                                               "timezone": "America/Sao_Paulo", "status": Campaign.Status.ACTIVE})
        self._step("campaign Acme code: 5 off (brand Acme Stores)", created)
        if not CodePool.objects.filter(brand=brand, name="Acme launch codes").exists():
            pool = code_pool_create(brand=brand, name="Acme launch codes", total_count=100)
            pool.campaign = discount
            pool.save(update_fields=["campaign"])
            self._step("code pool Acme launch codes (100 codes, 5.00 off each)", True)
        else:
            self._step("code pool Acme launch codes (100 codes, 5.00 off each)", False)

    def _step(self, what: str, created: bool) -> None:
        self.stdout.write(f"  {'created' if created else 'exists '}  {what}")
