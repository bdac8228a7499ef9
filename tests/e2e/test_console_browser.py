"""The staff console in a real browser: sign in, search, open the customer 360 page."""

import datetime as dt

import pytest
from django.utils import timezone

from guanxi.customers.models import ContactPoint
from guanxi.customers.services import set_contact_validity, update_customer
from tests.console.factories import make_customer, make_event, make_order
from tests.e2e.conftest import ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture
def customer_with_history(make_staff):
    agent = make_staff("agent", username="li.na")
    mei = make_customer(
        first_name="Mei",
        last_name="Chen",
        country="China",
        birthday=dt.date(1992, 8, 8),
        emails=["mei.chen@example.cn"],
        phones=["13800138000"],
        identities=[("tmall", "TM-77001"), ("shopify", "SH-1009")],
    )
    make_order(
        mei,
        external_id="537001",
        lines=[("22423", "Regency cakestand 3 tier", 2, "12.75")],
        placed_at=timezone.now() - dt.timedelta(days=2),
    )
    make_event(mei, "searched", query="tea set")
    set_contact_validity(mei.contact_points.get(kind="email"), ContactPoint.Validity.VALID)
    update_customer(mei, actor=agent, channel="console", occupation="photographer")
    make_customer(first_name="Other", last_name="Person", emails=["other@example.com"])
    return mei


@pytest.fixture
def marketer(make_staff):
    return make_staff("marketer", username="ma.rketer")


@pytest.mark.usefixtures("transactional_db")
def test_sign_in_search_and_open_customer_360(
    live_server, marketer, customer_with_history, browser_page
):
    page = browser_page

    page.goto(f"{live_server.url}/console/")
    assert "/console/login/" in page.url
    page.fill("input[name=username]", "ma.rketer")
    page.fill("input[name=password]", "pw-Secret-123")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/console/")
    assert page.locator("h1").inner_text() == "Home"

    page.fill("#global-search", "mei.chen@example")
    page.press("#global-search", "Enter")
    page.wait_for_url(lambda url: "/console/customers/" in url and "q=" in url)
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 1
    rows.first.locator("a.name").click()

    page.wait_for_url(f"**/console/customers/{customer_with_history.pk}/")
    assert page.locator("#customer-name").inner_text() == "Mei Chen"
    age = customer_with_history.age_on(timezone.localdate())
    assert f"{age} years old" in page.locator("[data-testid=age]").inner_text()
    contacts = page.locator("[data-testid=contact-point]")
    assert contacts.count() == 2
    assert "valid" in contacts.filter(has_text="mei.chen@example.cn").inner_text()
    timeline = page.locator("ol.timeline")
    assert "Order 537001" in timeline.inner_text()
    assert "li.na updated the profile" in timeline.inner_text()
    assert page.locator("ol.timeline li[data-kind=event]").count() == 1

    # The timeline filter keeps only profile changes.
    page.click("nav.tabs >> text=Profile changes")
    page.wait_for_url(lambda url: "tl=change" in url)
    assert page.locator("ol.timeline li[data-kind=order]").count() == 0
    assert page.locator("ol.timeline li[data-kind=change]").count() == 3

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{live_server.url}/console/customers/{customer_with_history.pk}/")
    page.screenshot(path=str(ARTIFACTS / "console-360.png"), full_page=True)
    assert page.js_errors == []


@pytest.mark.usefixtures("transactional_db")
def test_home_chart_renders_and_language_switches(
    live_server, admin_user, customer_with_history, browser_page
):
    page = browser_page
    page.goto(f"{live_server.url}/console/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "password")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/console/")
    # Chart.js drew on the canvas (vendored script served by WhiteNoise, no CDN).
    page.wait_for_function("() => window.Chart && Chart.getChart('revenue-chart')")

    page.click("form.lang button[value=zh-hans]")
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "首页"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-home-zh.png"), full_page=True)
    assert page.js_errors == []
