from rest_framework import serializers

from kernel.api import StrictSerializer
from offers.models import Offer, Subscription
from offers.selectors import offer_quote


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = ["id", "name", "description", "category", "price", "currency", "validity_days", "is_active"]


class OfferFilterSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=Offer.Category.choices, required=False)


class SubscriptionSerializer(serializers.ModelSerializer):
    offer = OfferSerializer(read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "offer", "status", "started_at", "expires_at", "auto_renew"]


class ExpiringFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, required=False, default=7)


class ActivationRequestSerializer(StrictSerializer):
    offer_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    campaign_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False,
                                           help_text="Apply this cart campaign's discount to the price.")

    def validate_campaign_id(self, value: int) -> int:
        from offers.campaigns.models import Campaign

        if not Campaign.objects.filter(pk=value).exclude(status=Campaign.Status.DRAFT).exists():
            raise serializers.ValidationError("Unknown campaign.", code="unknown_campaign")
        return value

    def validate_offer_id(self, value: int) -> int:
        offer = offer_quote(value)
        if offer is None:
            raise serializers.ValidationError("Unknown offer.", code="unknown_offer")
        self.context["offer"] = offer
        return value


class RenewalRequestSerializer(StrictSerializer):
    subscription_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)

    def validate_subscription_id(self, value: int) -> int:
        subscription = (Subscription.objects.select_related("offer")
                        .filter(pk=value, user=self.context["request"].user).first())
        if subscription is None:
            raise serializers.ValidationError("Unknown subscription.", code="unknown_subscription")
        self.context["subscription"] = subscription
        return value


class SubscriptionUpdateSerializer(StrictSerializer):
    auto_renew = serializers.BooleanField(help_text="Renew automatically shortly before the end "
                                                    "(AUTO_RENEW_LEAD_HOURS), charged like any renewal.")


class SubscriptionCancelSerializer(StrictSerializer):
    """No fields: the cancellation has nothing to choose."""
