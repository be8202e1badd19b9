from decimal import Decimal

import pytest

from offers.campaigns.rules import discount_compute

D = Decimal


@pytest.mark.parametrize("kind,value,base,cap,budget,expected", [
    ("percentage", D("10"), D("200.00"), None, D("1000"), D("20.00")),     # computed
    ("percentage", D("10"), D("200.00"), D("15.00"), D("1000"), D("15.00")),  # capped
    ("percentage", D("10"), D("200.00"), None, D("7.50"), D("7.50")),       # remaining budget
    ("flat", D("50.00"), D("30.00"), None, D("1000"), D("30.00")),          # never more than the value
    ("percentage", D("33.33"), D("10.00"), None, D("1000"), D("3.33")),     # rounded down to the cent
    ("percentage", D("100"), D("19.99"), None, D("1000"), D("19.99")),
    ("flat", D("5.00"), D("0"), None, D("1000"), D("0.00")),                 # nothing to discount
    ("flat", D("5.00"), D("10"), None, D("0"), D("0.00")),                   # budget exhausted
])
def test_discount_is_the_minimum_of_computed_cap_budget_and_value(kind, value, base, cap, budget, expected):
    assert discount_compute(kind=kind, value=value, base=base, cap=cap, budget_remaining=budget,
                            currency="EUR") == expected


def test_a_zero_decimal_currency_rounds_to_whole_units():
    assert discount_compute(kind="percentage", value=D("15"), base=D("999"), cap=None, budget_remaining=D("10000"),
                            currency="JPY") == D("149")
