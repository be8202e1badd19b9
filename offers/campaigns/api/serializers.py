from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from accounts.models import Segment, User
from accounts.money import MAX_AMOUNT, SUPPORTED_CURRENCIES
from kernel.api import StrictModelSerializer, StrictSerializer, TimeZoneField
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.rules import campaign_state
from offers.campaigns.selectors import campaign_ids_known
from offers.codes.models import Brand
from offers.codes.selectors import discount_code_get
from offers.merchants import ManagedRelatedField, merchant_brand_require

MONEY = {"max_digits": 12, "decimal_places": 2}
ORDER_REFERENCE = r"^[A-Za-z0-9_.:/-]{1,100}$"
CODE_PATTERN = r"^\s*[A-Za-z0-9]{4,32}\s*$"


class CampaignSerializer(StrictModelSerializer):
    value = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), max_value=MAX_AMOUNT)
    total_budget = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), max_value=MAX_AMOUNT)
    max_discount_amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), max_value=MAX_AMOUNT,
                                                   required=False, allow_null=True)
    min_cart_value = serializers.DecimalField(**MONEY, min_value=Decimal("0"), max_value=MAX_AMOUNT, required=False)
    max_uses_per_customer_per_day = serializers.IntegerField(min_value=1, max_value=10**6, required=False,
                                                             allow_null=True)
    max_total_uses = serializers.IntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False)
    target_customers = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    target_segments = serializers.SlugRelatedField(many=True, slug_field="slug", queryset=Segment.objects.all(),
                                                   required=False)
    budget_spent = serializers.DecimalField(source="spent_amount", **MONEY, read_only=True)
    budget_remaining = serializers.DecimalField(**MONEY, read_only=True)
    state = serializers.SerializerMethodField(
        help_text="draft, paused, ended, scheduled, exhausted (budget or uses spent) or running, now.")
    redemption_count = serializers.IntegerField(read_only=True, default=0)
    brand = ManagedRelatedField(queryset=Brand.objects.all(), required=False, allow_null=True,
                                help_text="The brand that runs it (one of mine); null: a platform campaign (staff only).")
    timezone = TimeZoneField(required=False, help_text="The IANA time zone of the campaign's days (default UTC).")

    class Meta:
        model = Campaign
        fields = ["id", "name", "description", "target", "kind", "value", "max_discount_amount", "min_cart_value",
                  "starts_on", "ends_on", "timezone", "currency", "total_budget", "budget_spent",
                  "budget_remaining", "state", "redemption_count", "uses_count", "max_uses_per_customer_per_day",
                  "max_total_uses", "is_targeted", "target_customers", "target_segments", "priority",
                  "is_stackable", "requires_code", "brand", "status", "created_at", "updated_at"]
        read_only_fields = ["uses_count", "created_at", "updated_at"]

    def get_state(self, campaign) -> str:
        return campaign_state(campaign, timezone.now())

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, None))

        errors = {}
        if current("starts_on") and current("ends_on") and current("ends_on") < current("starts_on"):
            errors["ends_on"] = ["Must not be before starts_on."]
        if current("kind") == Campaign.Kind.PERCENTAGE and current("value") is not None and current("value") > 100:
            errors["value"] = ["A percentage must be in (0, 100]."]
        if errors:
            raise serializers.ValidationError(errors)
        merchant_brand_require(user=getattr(self.context.get("request"), "user", None), brand=current("brand"))
        return attrs


class CampaignFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)
    target = serializers.ChoiceField(choices=Campaign.Target.choices, required=False)
    active_now = serializers.BooleanField(required=False, allow_null=True, default=None)


class CampaignStatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Campaign.Status.choices)

    class Meta:
        # Not "CampaignStatus": generators name Campaign's `status` enum so.
        ref_name = "CampaignStatusChange"


class CartSerializer(StrictSerializer):
    cart_value = serializers.DecimalField(**MONEY, min_value=Decimal("0"), max_value=MAX_AMOUNT)
    delivery_charge = serializers.DecimalField(**MONEY, min_value=Decimal("0"), max_value=MAX_AMOUNT,
                                               required=False, default=Decimal("0"))
    currency = serializers.ChoiceField(choices=SUPPORTED_CURRENCIES, required=False,
                                       help_text="The cart's currency; default: my account's currency. Campaigns in "
                                                 "another currency do not apply (currency_mismatch).")
    order_reference = serializers.RegexField(ORDER_REFERENCE, max_length=100, required=False,
                                             help_text="My order, if it already has discounts: they are taken "
                                                       "into account.")


class ExplainSerializer(serializers.Serializer):
    explain = serializers.BooleanField(required=False, default=False)


class RedeemSerializer(CartSerializer):
    """One campaign (`campaign_id`) or a combination (`campaign_ids`, applied in that order as
    one transaction that succeeds or fails whole), and/or a discount `code` of mine (its pool's
    campaign joins the combination; the code is spent with it), inside my order `order_reference`."""

    campaign_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    campaign_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
                                         min_length=1, max_length=10, required=False)
    code = serializers.RegexField(CODE_PATTERN, max_length=32, required=False,
                                  help_text="A discount code I hold (from a code pool that carries a discount).")
    order_reference = serializers.RegexField(
        ORDER_REFERENCE, max_length=100,
        help_text="My order (1-100 letters, digits, . _ : / -). Within one order a campaign applies once, a "
                  "non-stackable campaign stands alone, and the discounts never exceed the cart value or the "
                  "delivery charge; every redemption of an order states the same cart.")

    def validate(self, attrs):
        if "campaign_id" in attrs and "campaign_ids" in attrs or not (
                {"campaign_id", "campaign_ids", "code"} & set(attrs)):
            raise serializers.ValidationError(
                {"campaign_ids": ["Give one of campaign_id and campaign_ids, or a code (or campaign_ids and a code)."]})
        if "code" in attrs:
            attrs["code"] = discount_code_get(code=attrs["code"])
            if attrs["code"] is None:
                raise serializers.ValidationError({"code": ["Unknown code."]}, code="unknown_code")
            if attrs["code"].pool.campaign_id is None:
                raise serializers.ValidationError({"code": ["This code carries no discount."]},
                                                  code="code_without_discount")
        ids = attrs.pop("campaign_ids", None) or ([attrs.pop("campaign_id")] if "campaign_id" in attrs else [])
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError({"campaign_ids": ["A campaign can appear only once."]})
        known = campaign_ids_known(campaign_ids=ids)
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise serializers.ValidationError({"campaign_ids": [f"Unknown campaign: {unknown[0]}."]},
                                              code="unknown_campaign")
        attrs["campaign_ids"] = ids
        return attrs


class CodeCheckSerializer(CartSerializer):
    code = serializers.RegexField(CODE_PATTERN, max_length=32)


class CodeCheckResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField(), help_text=(
        "unknown_code, code_not_yours, code_used, code_expired, code_not_yet_valid, code_without_discount, then "
        "the campaign's (below_min_cart_value, currency_mismatch, daily_limit_reached, not_combinable, ...)"))
    campaign_id = serializers.IntegerField(allow_null=True)
    discount = serializers.CharField(allow_null=True)
    currency = serializers.CharField()


class AvailableDiscountSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    name = serializers.CharField()
    target = serializers.CharField()
    kind = serializers.CharField()
    discount = serializers.CharField()
    currency = serializers.CharField()
    stackable = serializers.BooleanField()
    priority = serializers.IntegerField()


class NotApplicableSerializer(AvailableDiscountSerializer):
    reasons = serializers.ListField(child=serializers.CharField())


class BestCombinationSerializer(serializers.Serializer):
    campaign_ids = serializers.ListField(child=serializers.IntegerField())
    total_discount = serializers.CharField()
    currency = serializers.CharField()


class AvailableResponseSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The cart's currency: every amount below is in it.")
    campaigns = AvailableDiscountSerializer(many=True)
    best_combination = BestCombinationSerializer()
    not_applicable = NotApplicableSerializer(many=True, required=False)


class RedemptionSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)

    class Meta:
        model = CampaignRedemption
        fields = ["id", "campaign", "campaign_name", "user", "transaction", "amount", "currency", "base_value",
                  "cart_value", "delivery_charge", "order_reference", "local_day", "created_at", "reversed_at"]


class UsageFilterSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    customer = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False,
                                        help_text="Staff only: another customer's usage.")
    date = serializers.DateField(required=False, help_text="The campaign-local day.")
