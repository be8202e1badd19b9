"""The README's signing examples (Python and curl + openssl) work against the live web process."""
import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from partners.models import PartnerActivation
from tests.factories import OfferFactory, customer
from tests.partners.signing import partner

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def readme_block(language: str, must_contain: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)
    return next(b for b in blocks if must_contain in b)


def fill_in(code: str, credentials, base_url: str, offer_id: int) -> str:
    code = code.replace("pk_…", credentials.key_id).replace('"…"', f'"{credentials.secret}"')
    code = code.replace("SECRET='…'", f"SECRET='{credentials.secret}'")
    code = code.replace("http://127.0.0.1:8000", base_url)
    return re.sub(r'("offer_id": ?)1\b', rf"\g<1>{offer_id}", code)


def test_the_python_example_activates(live_stack):
    # given
    web, _ = live_stack
    bob = customer(balance="50.00", email="bob@example.com")
    offer = OfferFactory()
    code = fill_in(readme_block("python", "till-0001"), partner(name="readme-py", customers=[bob]), web.url, offer.id)

    # when
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})

    # then
    assert out.getvalue().startswith("202 ")
    assert PartnerActivation.objects.filter(reference="till-0001").exists()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_curl_openssl_example_activates(live_stack):
    # given
    web, _ = live_stack
    bob = customer(balance="50.00", email="bob@example.com")
    offer = OfferFactory()
    script = fill_in(readme_block("sh", "openssl dgst"), partner(name="readme-sh", customers=[bob]), web.url, offer.id)

    # when
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)

    # then
    assert '"status":"PENDING"' in result.stdout.replace(" ", ""), result.stdout + result.stderr
    assert PartnerActivation.objects.filter(reference="till-0002").exists()
