from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from offers.flash.geo import KM_PER_DEGREE_LATITUDE
from offers.flash.models import Product, Store
from offers.flash.services import flash_promo_create

STORE_LAT = Decimal("48.856600")
STORE_LON = Decimal("2.352200")


def latitude_north_of_store(km: float) -> Decimal:
    """A latitude `km` north of the store on its meridian (the distance along a meridian
    is exact: R * delta-phi)."""
    return (STORE_LAT + Decimal(km / KM_PER_DEGREE_LATITUDE)).quantize(Decimal("0.000001"))


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    name = factory.Sequence(lambda n: f"Store {n}")
    address = "1 Rue de Rivoli"
    latitude = STORE_LAT
    longitude = STORE_LON


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    store = factory.SubFactory(StoreFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    regular_price = Decimal("100.00")
    currency = "EUR"


def running_promo(*, segments, quantity: int = 3, radius_km: str = "5", hold_seconds: int = 60, product=None,
                  starts_in: timedelta = -timedelta(minutes=1), **fields):
    now = timezone.now()
    return flash_promo_create(product=product or ProductFactory(), promo_price=Decimal("49.00"),
                              starts_at=now + starts_in, ends_at=now + timedelta(hours=1), segments=segments,
                              radius_km=Decimal(radius_km), quantity=quantity, hold_seconds=hold_seconds, **fields)
