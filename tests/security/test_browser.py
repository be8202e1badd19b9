"""The operator surfaces in a real browser: headless Chromium (Debian's, installed by the
bootstrap) driven by Selenium against the live web process. No driver is downloaded: the
Debian chromedriver is used. A missing browser is a failure, never a skip."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from activation.models import Transaction
from tests.factories import PASSWORD, bearer, customer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OP = "#operations-account-account_balance_list"  # Swagger UI's id: tag + operationId


@pytest.fixture
def browser():
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert Path(binary).exists(), f"{binary} missing: scripts/lib.sh installs chromium and chromium-driver"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, timeout: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def test_staff_finds_a_transaction_by_its_id_in_the_admin(live_web, browser):
    # given: a customer's transaction and a staff operator
    alice = customer(username="browser-alice")
    # finished rows: nothing enqueues them, and a PENDING one holds the teardown's wait for the
    # worker (settlement_queue_drain) until its 30 s run out
    txn = Transaction.objects.create(kind="offer_activation", user=alice, payload={}, status="FAILED")
    Transaction.objects.create(kind="offer_activation", user=alice, payload={}, status="FAILED")  # not to be shown
    staff = customer(username="browser-staff")
    staff.is_staff = staff.is_superuser = True
    staff.save(update_fields=["is_staff", "is_superuser"])

    # when: log in, open transactions, search by id
    browser.get(f"{live_web.url}/admin/login/?next=/admin/activation/transaction/")
    browser.find_element(By.NAME, "username").send_keys("browser-staff")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    search = _wait(browser).until(ec.presence_of_element_located((By.ID, "searchbar")))
    search.send_keys(str(txn.id))
    browser.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]").click()
    # the unfiltered list also has a #result_list: wait until the search's own page replaced it
    _wait(browser).until(ec.staleness_of(search))

    # then: exactly that transaction is listed; the admin stylesheet was served (collectstatic + WhiteNoise)
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result_list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert str(txn.id) in rows[0].text and "browser-alice" in rows[0].text
    assert "1 result" in browser.find_element(By.CSS_SELECTOR, "#changelist-search").text
    background = browser.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)"), "admin CSS did not load"


def test_swagger_ui_authorizes_with_a_jwt_and_executes_a_call(live_web, browser):
    # given: a customer with a balance and their access token
    alice = customer(username="swagger-alice", balance="42.50")
    token = bearer(alice)

    # when: open /swagger/, authorize with the Bearer token, try GET /account/balance/
    browser.get(f"{live_web.url}/swagger/")
    _wait(browser, 60).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize"))).click()
    field = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".modal-ux input[type=text]")))
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, ".modal-ux button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux button.btn-done").click()
    operation = _wait(browser).until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f"{OP} .opblock-summary")))
    operation.click()
    _wait(browser).until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f"{OP} button.try-out__btn"))).click()
    _wait(browser).until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f"{OP} button.execute"))).click()

    # then: the page shows the live response: 200 and Alice's balance
    table = _wait(browser).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"{OP} .live-responses-table")))
    _wait(browser).until(lambda _: "42.50" in table.text)
    assert "200" in table.find_element(By.CSS_SELECTOR, "tbody .response-col_status").text
    assert "42.50" in table.find_element(By.CSS_SELECTOR, "tbody .response-col_description").text
    curl = browser.find_element(By.CSS_SELECTOR, f"{OP} .curl").text
    assert "Authorization: Bearer" in curl
