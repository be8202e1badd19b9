from rest_framework import serializers

from kernel.api import StrictSerializer
from offers.models import Offer, Subscription
from offers.selectors import offer_quote, subscription_list_for_user


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
    """validated_data: `offer` (the Offer `offer_id` names, as quoted now) and `campaign_id`."""

    offer_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, source="offer")
    campaign_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False,
                                           help_text="Apply this cart campaign's discount to the price.")

    def validate_campaign_id(self, value: int) -> int:
        from offers.campaigns.selectors import campaign_ids_known

        if not campaign_ids_known(campaign_ids=[value]):
            raise serializers.ValidationError("Unknown campaign.", code="unknown_campaign")
        return value

    def validate_offer_id(self, value: int) -> Offer:
        offer = offer_quote(value)
        if offer is None:
            raise serializers.ValidationError("Unknown offer.", code="unknown_offer")
        return offer


class RenewalRequestSerializer(StrictSerializer):
    """validated_data: `subscription`, the caller's (context["request"].user) subscription
    `subscription_id` names; another customer's is unknown."""

    subscription_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, source="subscription")

    def validate_subscription_id(self, value: int) -> Subscription:
        subscription = subscription_list_for_user(user_id=self.context["request"].user.id).filter(pk=value).first()
        if subscription is None:
            raise serializers.ValidationError("Unknown subscription.", code="unknown_subscription")
        return subscription


class SubscriptionUpdateSerializer(StrictSerializer):
    auto_renew = serializers.BooleanField(help_text="Renew automatically shortly before the end "
                                                    "(AUTO_RENEW_LEAD_HOURS), charged like any renewal.")


class SubscriptionCancelSerializer(StrictSerializer):
    """No fields: the cancellation has nothing to choose."""
