"""Credentials: created and rotated from the command line and the admin, secret shown once."""
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import User
from partners.models import CallbackDelivery, Partner
from partners.services import partner_secret
from tests.partners.signing import partner

pytestmark = pytest.mark.django_db

# The management form of the Partner page's linked-customers inline, with no rows.
LINKS_INLINE_EMPTY = {"customer_links-TOTAL_FORMS": "0", "customer_links-INITIAL_FORMS": "0",
                      "customer_links-MIN_NUM_FORMS": "0", "customer_links-MAX_NUM_FORMS": "1000"}


def test_partner_create_prints_the_secret_once_and_stores_it_encrypted():
    # when
    out = io.StringIO()
    call_command("partner_create", "Retail Till", "--throttle-rate", "100/min", stdout=out)

    # then
    lines = dict(line.split(":", 1) for line in out.getvalue().splitlines() if ":" in line)
    secret = lines["secret"].strip()
    stored = Partner.objects.get(name="Retail Till")
    assert stored.key_id == lines["key id"].strip() and stored.throttle_rate == "100/min"
    assert secret not in stored.secret_encrypted
    assert partner_secret(partner=stored) == secret


def test_partner_create_refuses_a_duplicate_and_rotates_on_request():
    # given
    call_command("partner_create", "Reseller", stdout=io.StringIO())
    old_key = Partner.objects.get(name="Reseller").key_id

    # when / then
    with pytest.raises(CommandError):
        call_command("partner_create", "Reseller", stdout=io.StringIO())
    call_command("partner_create", "Reseller", "--rotate", stdout=io.StringIO())
    assert Partner.objects.get(name="Reseller").key_id != old_key


def test_the_admin_rotates_credentials_and_shows_the_new_secret_once(client):
    # given
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)
    credentials = partner()

    # when
    response = client.post(reverse("admin:partners_partner_changelist"),
                           {"action": "rotate_credentials", "_selected_action": [credentials.partner.pk],
                            "post": "yes"},  # confirmed (tests/partners/test_rotation.py: the question)
                           follow=True)

    # then
    rotated = Partner.objects.get(pk=credentials.partner.pk)
    assert rotated.key_id != credentials.key_id
    assert rotated.key_id in response.content.decode()
    assert partner_secret(partner=rotated) in response.content.decode()


def test_adding_a_partner_in_the_admin_issues_credentials(client):
    # given
    admin = User.objects.create_superuser("root3", "root3@example.com", "pw-123456")
    client.force_login(admin)

    # when
    response = client.post(reverse("admin:partners_partner_add"),
                           {"name": "Operator B", "is_active": "on", "callback_url": "", "throttle_rate": "",
                            **LINKS_INLINE_EMPTY},
                           follow=True)

    # then
    created = Partner.objects.get(name="Operator B")
    assert response.status_code == 200
    assert created.key_id and partner_secret(partner=created) in response.content.decode()


def test_the_admin_pages_render(client):
    # given
    admin = User.objects.create_superuser("root2", "root2@example.com", "pw-123456")
    client.force_login(admin)
    partner()

    # when
    pages = [client.get(reverse(f"admin:partners_{name}_changelist"))
             for name in ("partner", "partneractivation", "callbackdelivery")]

    # then
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert CallbackDelivery.objects.count() == 0


def test_the_api_docs_describe_the_partner_endpoints():
    # given: only the partner URLs (the full /swagger.json is another issue's concern)
    from django.urls import include, path
    from drf_yasg import openapi
    from drf_yasg.generators import OpenAPISchemaGenerator

    from partners.api.urls import urlpatterns

    generator = OpenAPISchemaGenerator(openapi.Info(title="t", default_version="v1"),
                                       patterns=[path("api/v1/", include(urlpatterns))])

    # when
    schema = generator.get_schema(request=None, public=True)

    # then
    paths = " ".join(schema["paths"])
    assert "activate/" in paths and "validate/{reference}/" in paths
    [reverse_path] = [p for p in schema["paths"] if p.endswith("reverse/{reference}/")]
    assert {"200", "401", "403", "404", "409", "429"} <= set(schema["paths"][reverse_path]["post"]["responses"])
