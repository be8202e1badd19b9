"""The demo partner (called by `seed_demo`): created once, its credentials printed that once,
linked to the demo customers. Refused under production settings, like seed_demo."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from partners.models import Partner
from partners.services import partner_create, partner_customer_link

DEMO_PARTNER = "demo-reseller"
LINKED = ("alice", "bob")


class Command(BaseCommand):
    help = "Creates the demo partner (credentials printed once) linked to alice and bob. Safe to run twice."

    def handle(self, *args, **options):
        if not settings.ALLOW_DEMO_DATA:
            raise CommandError("seed_demo_partner is refused under production settings.")
        partner = Partner.objects.filter(name=DEMO_PARTNER).first()
        if partner is None:
            credentials = partner_create(name=DEMO_PARTNER)
            partner = credentials.partner
            self.stdout.write(f"  created  partner {DEMO_PARTNER}: key id {credentials.key_id}, "
                              f"secret {credentials.secret} (shown once: `manage.py partner_create "
                              f"{DEMO_PARTNER} --rotate` issues new ones)")
        else:
            self.stdout.write(f"  exists   partner {DEMO_PARTNER} (key id {partner.key_id})")
        for user in User.objects.filter(username__in=LINKED):
            partner_customer_link(partner=partner, customer=user)
        self.stdout.write(f"           linked to {', '.join(LINKED)}")
