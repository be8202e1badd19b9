"""One error vocabulary: every failure code a settler or service can finish a transaction with
is a member of a registered enum whose label is what a customer is told; services raise
HTTP-free `ApplicationError`s; one handler maps them to statuses."""
import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from kernel.errors import (ApplicationError, ConflictError, NotFound, NotPermitted, failure_codes_register,
                           failure_enums, failure_label, http_status)
from notifications.reasons import failure_reason

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "activation", "offers", "partners", "notifications", "monitoring")
DOMAIN = ("accounts", "offers", "partners")

# The wording customers were shown before the codes moved into enums (notifications/reasons.py's
# hand-written dict): the e-mails must not change.
WORDING_BEFORE = {
    "insufficient_balance": "your account balance does not cover the price",
    "offer_inactive": "the offer is no longer available",
    "currency_mismatch": "the offer is priced in a different currency than your account",
    "subscription_not_renewable": "the subscription was cancelled and cannot be renewed",
    "not_started": "the discount campaign has not started yet",
    "ended": "the discount campaign has ended",
    "paused": "the discount campaign is paused",
    "budget_exhausted": "the discount campaign has used up its budget",
    "usage_limit_reached": "the discount has reached its usage limit",
    "below_min_cart_value": "your cart is below the campaign's minimum value",
    "daily_limit_reached": "you have reached today's limit for this discount",
    "not_targeted": "the discount is not offered to you",
    "nothing_to_discount": "there was nothing to discount",
    "not_applicable_to_offer": "the discount does not apply to this offer",
    "unknown_campaign": "the discount campaign no longer exists",
    "already_in_order": "this discount is already applied to your order",
    "not_combinable": "this discount cannot be combined with the others on your order",
    "order_cart_mismatch": "the cart differs from the one your order's other discounts were given for",
    "code_required": "this discount needs a discount code",
    "no_account": "there is no account to charge",
    "unknown_code": "the discount code does not exist",
    "code_not_yours": "the discount code belongs to someone else",
    "code_used": "the discount code has already been used",
    "code_expired": "the discount code has expired",
    "code_not_yet_valid": "the discount code is not valid yet",
    "code_without_discount": "the discount code carries no discount",
    "sold_out": "everything has already been taken",
    "pool_not_active": "the code pool is not open right now",
    "not_eligible": "you are not eligible for this promotion",
    "already_holding": "you already hold a unit of this promotion",
    "customer_limit_reached": "you already have every unit one customer may buy",
    "pool_not_ready": "the pool's codes are still being generated; try again in a moment",
    "settlement_error": "of a technical problem on our side; you were not charged",
}


def _sources(packages) -> list[Path]:
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.parts]


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _failure_code_args(tree: ast.Module):
    """The first argument of every `Outcome.failure(...)` call."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "failure"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "Outcome" and node.args):
            yield node.args[0]


def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _registered_enum_member(arg: ast.expr) -> str | None:
    """`SomeFailure.MEMBER` of a registered enum: its code; else None."""
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
        for enum in failure_enums():
            if enum.__name__ == arg.value.id and arg.attr in enum.__members__:
                return enum[arg.attr].value
    return None


def test_the_wording_customers_read_is_unchanged():
    # given / when
    wording = {code: failure_reason(code) for code in WORDING_BEFORE}

    # then
    assert wording == WORDING_BEFORE
    assert failure_reason("") == ""
    assert failure_reason("no_such_code") == "it could not be completed"


def test_every_registered_code_reads_as_its_label():
    # given
    enums = failure_enums()

    # when / then
    assert {e.__name__ for e in enums} >= {"EngineFailure", "OfferFailure", "CampaignFailure", "CodeFailure",
                                           "FlashFailure"}
    for enum in enums:
        for member in enum:
            assert member.label and member.label != member.name.replace("_", " ").title(), member
            assert failure_reason(member.value) == failure_label(member.value) == member.label


def test_a_code_is_defined_by_one_enum_only():
    # given: an enum that restates a code another app's enum already defines
    from django.db import models

    class Restated(models.TextChoices):
        SOLD_OUT = "sold_out", "gone"

    # when / then
    with pytest.raises(Exception, match="sold_out"):
        failure_codes_register(Restated)
    assert failure_reason("sold_out") == WORDING_BEFORE["sold_out"]


def test_every_failure_code_a_settler_returns_is_a_registered_enum_member():
    # given: every Outcome.failure(...) in the apps' code
    unregistered, not_enum = [], []
    for path in _sources(APPS):
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = _module_constants(tree)
        for arg in _failure_code_args(tree):
            where = f"{_relative(path)}:{arg.lineno}"
            # when: the code is written as a literal, a module constant or an enum member
            code = _registered_enum_member(arg)
            if code is None and isinstance(arg, ast.Constant):
                code = arg.value
            elif code is None and isinstance(arg, ast.Name) and arg.id in constants:
                code = constants[arg.id]
            if code is not None and failure_label(code) is None:
                unregistered.append(f"{where} {code}")
            # domain code names its refusals by enum member, never by string
            if path.relative_to(ROOT).parts[0] in DOMAIN and (
                    isinstance(arg, ast.Constant) or (isinstance(arg, ast.Name) and arg.id in constants)):
                not_enum.append(where)

    # then
    assert not unregistered, f"failure codes no registered enum defines: {unregistered}"
    assert not not_enum, f"failure codes written as strings instead of enum members: {not_enum}"


def _http_edge(path: Path) -> bool:
    """Where HTTP is allowed: the API packages, the kernel, and DRF authentication backends."""
    relative = _relative(path)
    return "/api/" in relative or relative.startswith("kernel/") or relative.endswith("/authentication.py")


def _imports_drf_exceptions(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "rest_framework.exceptions":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "rest_framework" and any(
                alias.name == "exceptions" for alias in node.names):
            return True
        if isinstance(node, ast.Import) and any(alias.name.startswith("rest_framework.exceptions")
                                                for alias in node.names):
            return True
    return False


def test_services_know_nothing_of_http():
    # given: every module of the apps outside the HTTP edge
    offenders = [_relative(path) for path in _sources(APPS + ("config",))
                 if not _http_edge(path) and _imports_drf_exceptions(ast.parse(path.read_text()))]

    # when: every application error class the apps define (imported, so their subclasses exist)
    for package in APPS:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name and not info.name.endswith(".tests"):
                importlib.import_module(info.name)
    classes, todo = [], [ApplicationError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    with_status = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes
                   if "status_code" in vars(cls) and not cls.__module__.startswith("kernel.")
                   and ".api." not in cls.__module__]

    # then
    assert not offenders, f"modules outside */api/ and kernel/ that import rest_framework.exceptions: {offenders}"
    assert not with_status, f"application errors that carry an HTTP status: {with_status}"


def test_one_table_maps_each_kind_of_refusal_to_its_status():
    # given
    from offers.flash.errors import HoldExpired
    from offers.subscriptions import SubscriptionNotFound, SubscriptionNotRenewable
    from partners.authentication import PartnerInactive

    # when / then
    assert http_status(HoldExpired()) == http_status(SubscriptionNotRenewable()) == 409
    assert http_status(SubscriptionNotFound()) == 404
    assert http_status(PartnerInactive()) == 403
    assert isinstance(HoldExpired(), ConflictError) and isinstance(SubscriptionNotFound(), NotFound)
    assert isinstance(PartnerInactive(), NotPermitted)
    assert http_status(ApplicationError()) == 400


@pytest.mark.django_db
def test_the_async_status_view_answers_through_the_handler(api_client):
    # given: no credentials, then a transaction that is not there
    from tests.factories import bearer, customer

    path = "/api/v1/activation/status/00000000-0000-0000-0000-000000000000/"
    auth = bearer(customer())

    # when
    anonymous = api_client.get(path)
    missing = api_client.get(path, HTTP_AUTHORIZATION=auth)
    bad_wait = api_client.get(path + "?wait=abc", HTTP_AUTHORIZATION=auth)
    posted = api_client.post(path, HTTP_AUTHORIZATION=auth)

    # then
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.json() == {"code": "not_authenticated",
                                "message": "Authentication credentials were not provided.", "details": {}}
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "No such transaction.", "details": {}}
    assert bad_wait.status_code == 400 and bad_wait.json()["code"] == "validation_error"
    assert set(bad_wait.json()["details"]) == {"wait"}
    assert posted.status_code == 405 and posted.json() == {
        "code": "method_not_allowed", "message": 'Method "POST" not allowed.', "details": {}}
