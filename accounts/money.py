"""Money is Decimal with an explicit currency; amounts are quantized to the currency's
minor unit with banker-free half-up rounding (what customers expect on a receipt)."""
from decimal import ROUND_HALF_UP, Decimal

from kernel.errors import ApplicationError

# ISO 4217 minor units that differ from 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3}
MAX_AMOUNT = Decimal("9999999999.99")
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "BRL", "JPY")


def money_quantize(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def money_fractions(currency: str, **amounts: Decimal | None) -> dict[str, list[str]]:
    """The amounts that are not a whole number of `currency`'s minor units (half a yen, a
    tenth of a cent), each with its message: the one rule for what may be priced, budgeted,
    carted or credited in a currency. The ledger rounds to the minor unit, so such a price
    would be charged other than it reads, and one under half a unit not at all."""
    places = MINOR_UNITS.get(currency.upper(), 2)
    allowed = "no decimal places" if places == 0 else f"at most {places} decimal places"
    return {name: [f"An amount in {currency} has {allowed}."] for name, amount in amounts.items()
            if amount is not None and Decimal(amount) != money_quantize(amount, currency)}


def money_whole_require(currency: str, **amounts: Decimal | None) -> None:
    """Refuses (400 `amount_not_whole`, the fields in details) what money_fractions finds."""
    fractions = money_fractions(currency, **amounts)
    if fractions:
        raise ApplicationError("; ".join(f"{name}: {messages[0]}" for name, messages in fractions.items()),
                               code="amount_not_whole", details=fractions)
