"""Money is Decimal with an explicit currency; amounts are quantized to the currency's
minor unit with banker-free half-up rounding (what customers expect on a receipt)."""
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units that differ from 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3}
MAX_AMOUNT = Decimal("9999999999.99")
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "BRL", "JPY")


def money_quantize(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)
