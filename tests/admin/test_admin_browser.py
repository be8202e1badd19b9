"""The operators' admin in headless Chromium against the live web process: the site's name,
"View site" leads to the API docs, a ledger entry is a view page, and rotating a partner's
credentials asks first, then shows the new secret once."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.models import LedgerEntry
from partners.models import Partner
from tests.factories import PASSWORD, customer
from tests.partners.signing import partner
from tests.security.test_browser import browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait(driver, timeout: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def test_an_operator_finds_the_docs_views_a_ledger_entry_and_rotates_a_key_after_confirming(live_web, browser):  # noqa: F811
    # given
    entry = LedgerEntry.objects.get(account__user=customer(username="browser-payer", balance="12.00"))
    credentials = partner(name="Browser Partner")
    operator = customer(username="browser-operator")
    operator.is_staff = operator.is_superuser = True
    operator.save(update_fields=["is_staff", "is_superuser"])

    # when: log in
    browser.get(f"{live_web.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("browser-operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "operator-links")))

    # then: the site is named and links the docs and dashboards
    assert browser.find_element(By.ID, "site-name").text == "Offers & Activation — operations"
    links = browser.find_element(By.ID, "operator-links").text
    assert "Swagger" in links and "ReDoc" in links and "Queue health" in links

    # when: "View site"
    view_site = browser.find_element(By.CSS_SELECTOR, "#user-tools a[href='/swagger/']")
    assert view_site.text.lower() == "view site"  # the admin's CSS shows it in capitals
    view_site.click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "swagger-ui")))

    # then: the API docs, not a JSON 404
    assert browser.current_url == f"{live_web.url}/swagger/"

    # when: a ledger entry
    browser.get(f"{live_web.url}/admin/accounts/ledgerentry/{entry.pk}/change/")

    # then: a view page without Save
    assert browser.find_element(By.TAG_NAME, "h1").text == "View ledger entry"
    assert not browser.find_elements(By.NAME, "_save")

    # when: rotate the partner's credentials through the action
    browser.get(f"{live_web.url}/admin/partners/partner/")
    browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{credentials.partner.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("rotate_credentials")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    confirm = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[value='Yes, rotate']")))

    # then: asked first, nothing rotated yet
    assert "Rotate credentials?" in browser.title
    assert Partner.objects.get(pk=credentials.partner.pk).key_id == credentials.key_id

    # when: confirmed
    confirm.click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist")))

    # then: the new secret is shown once; the old key stays valid for the overlap
    rotated = Partner.objects.get(pk=credentials.partner.pk)
    assert rotated.key_id != credentials.key_id and rotated.previous_key_id == credentials.key_id
    assert rotated.key_id in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
