"""Every walk-through in the README runs as written against the live web process and worker,
on the data `seed_demo` creates: each ```sh block that talks to `$API`, in order, in one bash
session, with curl failing on any HTTP error. (The signing examples for partners have their
own test, tests/partners/test_readme_examples.py.)"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body -sS "$@"; echo; }
"""


def walkthrough_blocks() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    return [b for b in blocks if "$API" in b and "openssl" not in b]


def test_the_readme_has_walkthroughs_for_every_area():
    text = "\n".join(walkthrough_blocks())
    for endpoint in ("auth/login/", "activation/", "discounts/redeem/", "codes/validate/", "reservations/",
                     "complete/", "reverse/"):
        assert endpoint in text, endpoint


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
def test_every_readme_walkthrough_runs_as_written(live_stack):
    # given: the demo data, and the README's commands pointed at the live server
    web, _ = live_stack
    call_command("seed_demo", verbosity=0)
    script = PREAMBLE + "\n".join(walkthrough_blocks()).replace("http://127.0.0.1:8000", web.url)

    # when
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)

    # then
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
