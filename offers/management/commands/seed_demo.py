"""Demo data for local runs: idempotent, shows progress, refused under production settings."""
from decimal import Decimal

from django.conf import settings
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
    help = "Creates the demo users (password demo-pass), segments and offers. Safe to run twice."

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
        self.stdout.write(self.style.SUCCESS(f"demo data ready; password for every demo user: {DEMO_PASSWORD}"))

    def _campaigns(self) -> None:
        from datetime import timedelta

        from django.utils import timezone

        from offers.campaigns.models import Campaign

        today = timezone.now().date()
        for name, fields in [
            ("Welcome 10%", {"target": "cart", "kind": "percentage", "value": Decimal("10"),
                             "max_discount_amount": Decimal("15.00"), "total_budget": Decimal("1000.00"),
                             "max_uses_per_customer_per_day": 2}),
            ("Free delivery", {"target": "delivery", "kind": "flat", "value": Decimal("5.00"),
                               "total_budget": Decimal("200.00"), "is_stackable": True,
                               "min_cart_value": Decimal("20.00")}),
        ]:
            _, created = Campaign.objects.get_or_create(
                name=name, defaults={**fields, "starts_on": today - timedelta(days=1),
                                     "ends_on": today + timedelta(days=60), "timezone": "America/Sao_Paulo",
                                     "status": Campaign.Status.ACTIVE})
            self._step(f"campaign {name}", created)

    def _step(self, what: str, created: bool) -> None:
        self.stdout.write(f"  {'created' if created else 'exists '}  {what}")
