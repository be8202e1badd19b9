from datetime import datetime

from accounts.models import User
from partners.models import REFERENCE_PATTERN, Partner, PartnerActivation


def partner_get_by_key(*, key_id: str) -> Partner | None:
    return Partner.objects.filter(key_id=key_id).first()


def partner_get_by_previous_key(*, key_id: str, now: datetime) -> Partner | None:
    """The partner whose rotated-out key this is, while its overlap window lasts."""
    if not key_id:
        return None
    return Partner.objects.filter(previous_key_id=key_id, previous_key_valid_until__gt=now).first()


def partner_activation_get(*, partner: Partner, reference: str) -> PartnerActivation | None:
    """Only the partner's own references: another partner's is as absent as a made-up one,
    and so is one that could never have been accepted (a NUL, which PostgreSQL refuses)."""
    if not REFERENCE_PATTERN.match(reference):
        return None
    return (PartnerActivation.objects.select_related("transaction", "offer")
            .filter(partner=partner, reference=reference).first())


def partner_customer_get(*, partner: Partner, identifier: str) -> User | None:
    """A customer named by a partner, among the customers linked to it only: an unlinked
    customer is as absent as an unknown one, so a partner cannot probe who is registered."""
    identifier = identifier.strip()
    linked = User.objects.filter(is_active=True, partner_links__partner=partner)
    if "@" in identifier:
        return linked.filter(email__iexact=identifier).first()
    return linked.filter(profile__phone=identifier).first()
