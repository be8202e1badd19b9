"""Who manages what. Platform staff (`is_staff`, who also open the Django admin) manage every
brand and every brand's objects, and the platform's own (brand null). A brand member (a user
in `Brand.staff`, not staff) manages the objects of the brands they belong to: campaigns,
stores, the stores' products, the products' flash promos, code pools, and the redemptions of
those campaigns. Every merchant view reads through `managed_by` (another brand's object is a
404, like one that does not exist) and every write names its brand, store or product through
`ManagedRelatedField` (another brand's id is refused like an unknown id), so the rule lives
here alone."""
from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import permissions, serializers

from kernel.errors import NotFound
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.selectors import redemption_list
from offers.codes.models import Brand, CodePool
from offers.flash.models import FlashPromo, Product, Store

# The path from each managed model to the brand that owns it (null: the platform's own).
BRAND_OF = {
    Brand: "pk",
    Campaign: "brand",
    CampaignRedemption: "campaign__brand",
    Store: "brand",
    Product: "store__brand",
    FlashPromo: "product__store__brand",
    CodePool: "brand",
}


def _is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


def brands_managed_by(*, user) -> QuerySet[Brand]:
    """Platform staff: every brand; a brand member: theirs; anyone else: none."""
    if _is_staff(user):
        return Brand.objects.all()
    if not (user and user.is_authenticated):
        return Brand.objects.none()
    return Brand.objects.filter(staff=user)


def user_is_merchant(*, user) -> bool:
    return _is_staff(user) or brands_managed_by(user=user).exists()


def managed_by(queryset: QuerySet, *, user) -> QuerySet:
    """The rows of `queryset` that `user` manages. A subquery on the brand, not a join on its
    members: no duplicate rows, and the queryset's annotations stay as they are."""
    if _is_staff(user):
        return queryset
    path = BRAND_OF[queryset.model]
    return queryset.filter(**{f"{path}__in": brands_managed_by(user=user).values("pk")})


def managed_get(queryset: QuerySet, *, user, pk: int, message: str = "Not found."):
    """One row that `user` manages, else 404 (whether it belongs to another brand or does not exist)."""
    row = managed_by(queryset, user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(message)
    return row


def redemption_list_visible(*, user, campaign_id: int | None = None, customer_id: int | None = None,
                            day=None) -> QuerySet[CampaignRedemption]:
    """Platform staff: anyone's (`customer_id`); a brand member asking for a campaign they
    manage: every customer's redemptions of it; anyone else (a member too, otherwise): their own."""
    if not _is_staff(user):
        manages_campaign = (campaign_id is not None
                            and managed_by(Campaign.objects.filter(pk=campaign_id), user=user).exists())
        if not manages_campaign:
            customer_id = user.id
    return redemption_list(user_id=customer_id, campaign_id=campaign_id, day=day)


class IsMerchant(permissions.BasePermission):
    """Platform staff and brand members; what each may touch: `managed_by`."""

    message = "Only platform staff and brand members may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_merchant(user=request.user)


class IsPlatformStaffOrReadOnly(permissions.BasePermission):
    """Reads for any signed-in user (scoped by the view); writes for platform staff only."""

    message = "Only platform staff may do this."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return _is_staff(request.user)


class ManagedRelatedField(serializers.PrimaryKeyRelatedField):
    """A brand, store or product the requesting user manages: another brand's id gets the
    same 400 as an id that does not exist. Needs the request in the serializer's context."""

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        if request is None:
            return queryset.none()
        return managed_by(queryset, user=request.user)


def merchant_brand_require(*, user, brand: Brand | None) -> None:
    """Platform staff may leave an object to the platform (brand null); a brand member names
    one of their brands, so nothing they create falls outside what they can see."""
    if brand is None and not _is_staff(user):
        raise serializers.ValidationError({"brand": ["Name one of your brands."]}, code="brand_required")
