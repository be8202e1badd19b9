from accounts.models import User
from partners.models import Partner, PartnerActivation


def partner_get_by_key(*, key_id: str) -> Partner | None:
    return Partner.objects.filter(key_id=key_id).first()


def partner_activation_get(*, partner: Partner, reference: str) -> PartnerActivation | None:
    """Only the partner's own references: another partner's is as absent as a made-up one."""
    return (PartnerActivation.objects.select_related("transaction", "offer")
            .filter(partner=partner, reference=reference).first())


def customer_by_identifier(*, identifier: str) -> User | None:
    """A customer named by a partner: an email address, or a phone number on the profile."""
    identifier = identifier.strip()
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier, is_active=True).first()
    return User.objects.filter(profile__phone=identifier, is_active=True).first()
