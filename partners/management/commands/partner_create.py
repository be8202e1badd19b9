from django.core.management.base import BaseCommand, CommandError

from partners.models import Partner
from partners.services import CallbackUrlRefused, partner_create, partner_credentials_rotate


class Command(BaseCommand):
    help = "Creates a partner (or, with --rotate, rotates its credentials) and prints the secret once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--callback-url", default="")
        parser.add_argument("--throttle-rate", default="", help='e.g. "600/min"')
        parser.add_argument("--rotate", action="store_true", help="Rotate the credentials of an existing partner.")

    def handle(self, *args, name: str, callback_url: str, throttle_rate: str, rotate: bool, **options):
        existing = Partner.objects.filter(name=name).first()
        if existing is not None and not rotate:
            raise CommandError(f"Partner {name!r} exists; use --rotate to issue new credentials.")
        if existing is None and rotate:
            raise CommandError(f"No partner named {name!r}.")
        try:
            credentials = (partner_credentials_rotate(partner=existing) if existing else
                           partner_create(name=name, callback_url=callback_url, throttle_rate=throttle_rate))
        except CallbackUrlRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"partner: {credentials.partner.name}\nkey id:  {credentials.key_id}\n"
                          f"secret:  {credentials.secret}\n(the secret is shown once; store it now)")
