"""The campaign rules, as pure functions: the same code answers "which discounts apply"
(from the cache) and settles a redemption (on the locked row)."""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from accounts.money import MINOR_UNITS
from offers.campaigns.errors import CampaignFailure
from offers.errors import OfferFailure


def discount_compute(*, kind: str, value: Decimal, base: Decimal, cap: Decimal | None, budget_remaining: Decimal,
                     currency: str, room: Decimal | None = None) -> Decimal:
    """min(computed discount, cap, remaining budget, the value discounted, what the order's
    other discounts left of it), rounded down to the currency's minor unit so the sum of
    discounts can never pass the budget or the value."""
    exponent = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    computed = base * value / Decimal(100) if kind == "percentage" else value
    candidates = [computed, budget_remaining, base] + ([cap] if cap is not None else []) + (
        [room] if room is not None else [])
    return max(min(candidates), Decimal(0)).quantize(exponent, rounding=ROUND_DOWN)


def campaign_local_day(campaign, at: datetime) -> date:
    return at.astimezone(ZoneInfo(campaign.timezone)).date()


def campaign_is_used_up(campaign) -> bool:
    """Budget or total uses spent: the campaign can give nothing more until staff add to it."""
    return campaign.spent_amount >= campaign.total_budget or (
        campaign.max_total_uses is not None and campaign.uses_count >= campaign.max_total_uses)


def campaign_state(campaign, at: datetime) -> str:
    """What a campaign is doing now: draft, paused, ended, scheduled, exhausted or running.
    `status` is the operator's switch; the state adds the calendar and the counters."""
    if campaign.status in ("draft", "paused"):
        return campaign.status
    day = campaign_local_day(campaign, at)
    if campaign.status == "ended" or day > campaign.ends_on:
        return "ended"
    if day < campaign.starts_on:
        return "scheduled"
    return "exhausted" if campaign_is_used_up(campaign) else "running"


@dataclass(frozen=True)
class Cart:
    cart_value: Decimal
    delivery_charge: Decimal
    currency: str


@dataclass(frozen=True)
class OrderLine:
    """A live redemption already in the order."""
    campaign_id: int
    target: str
    stackable: bool
    amount: Decimal


@dataclass(frozen=True)
class Order:
    """A customer's order as its live redemptions describe it. `cart` is None while empty."""
    cart: Cart | None = None
    lines: tuple[OrderLine, ...] = ()

    def discounted(self, target: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.target == target), Decimal("0"))

    def with_line(self, cart: Cart, line: OrderLine) -> "Order":
        return Order(cart=self.cart or cart, lines=self.lines + (line,))


EMPTY_ORDER = Order()


@dataclass(frozen=True)
class Evaluation:
    campaign_id: int
    discount: Decimal
    refusals: tuple[str, ...]

    @property
    def applies(self) -> bool:
        return not self.refusals and self.discount > 0


def campaign_evaluate(*, campaign, at: datetime, customer_targeted: bool, uses_today: int, cart: Cart,
                      order: Order = EMPTY_ORDER, with_code: bool = False) -> Evaluation:
    """Every reason the campaign does not apply now for this customer, cart and order, and the
    discount it would give. Within an order a campaign applies once, a non-stackable one
    stands alone, every redemption states the same cart, and the order's discounts never
    exceed the cart value or the delivery charge they discount."""
    refusals: list[str] = []
    day = campaign_local_day(campaign, at)
    if day < campaign.starts_on:
        refusals.append(CampaignFailure.NOT_STARTED)
    if day > campaign.ends_on or campaign.status == "ended":
        refusals.append(CampaignFailure.ENDED)
    if campaign.status in ("paused", "draft"):
        refusals.append(CampaignFailure.PAUSED)
    if campaign.total_budget - campaign.spent_amount <= 0:
        refusals.append(CampaignFailure.BUDGET_EXHAUSTED)
    if campaign.max_total_uses is not None and campaign.uses_count >= campaign.max_total_uses:
        refusals.append(CampaignFailure.USAGE_LIMIT_REACHED)
    if cart.currency != campaign.currency:
        refusals.append(OfferFailure.CURRENCY_MISMATCH)
    if cart.cart_value < campaign.min_cart_value:
        refusals.append(CampaignFailure.BELOW_MIN_CART_VALUE)
    if campaign.max_uses_per_customer_per_day is not None and uses_today >= campaign.max_uses_per_customer_per_day:
        refusals.append(CampaignFailure.DAILY_LIMIT_REACHED)
    if campaign.is_targeted and not customer_targeted:
        refusals.append(CampaignFailure.NOT_TARGETED)
    if campaign.requires_code and not with_code:
        refusals.append(CampaignFailure.CODE_REQUIRED)
    if order.cart is not None and order.cart != cart:
        refusals.append(CampaignFailure.ORDER_CART_MISMATCH)
    if any(line.campaign_id == campaign.id for line in order.lines):
        refusals.append(CampaignFailure.ALREADY_IN_ORDER)
    elif order.lines and (not campaign.is_stackable or not all(line.stackable for line in order.lines)):
        refusals.append(CampaignFailure.NOT_COMBINABLE)
    base = cart.cart_value if campaign.target == "cart" else cart.delivery_charge
    discount = discount_compute(kind=campaign.kind, value=campaign.value, base=base,
                                cap=campaign.max_discount_amount,
                                budget_remaining=campaign.total_budget - campaign.spent_amount,
                                currency=campaign.currency, room=base - order.discounted(campaign.target))
    if not refusals and discount <= 0:
        refusals.append(CampaignFailure.NOTHING_TO_DISCOUNT)
    return Evaluation(campaign_id=campaign.id, discount=discount, refusals=tuple(refusals))


def best_combination(evaluations: list[tuple[object, Evaluation]], *, cart: Cart,
                     order: Order = EMPTY_ORDER) -> tuple[list[int], Decimal]:
    """At most one exclusive campaign, or every stackable one added up per target without
    exceeding what the order leaves of the value discounted; whichever gives more."""
    applicable = [(c, e) for c, e in evaluations if e.applies]
    best_ids: list[int] = []
    best_total = Decimal("0")
    for campaign, evaluation in applicable:
        if not campaign.is_stackable and evaluation.discount > best_total:
            best_ids, best_total = [campaign.id], evaluation.discount
    stack_ids: list[int] = []
    per_target = {"cart": Decimal("0"), "delivery": Decimal("0")}
    limits = {"cart": cart.cart_value - order.discounted("cart"),
              "delivery": cart.delivery_charge - order.discounted("delivery")}
    for campaign, evaluation in applicable:
        if campaign.is_stackable:
            room = limits[campaign.target] - per_target[campaign.target]
            if room > 0:
                per_target[campaign.target] += min(evaluation.discount, room)
                stack_ids.append(campaign.id)
    stack_total = per_target["cart"] + per_target["delivery"]
    if stack_total > best_total:
        return stack_ids, stack_total
    return best_ids, best_total
