"""The service desk in a real browser: a customer submits a ticket in the portal, an agent
answers it in the console, the customer sees the answer and rates it."""

import os
from pathlib import Path

import pytest

from guanxi.portal.services import sign_up
from guanxi.service import services
from guanxi.service.models import SLAPolicy, SurveyResponse, Ticket
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    _wait_for_request_threads,
)
from tests.service.conftest import smtp  # noqa: F401 - the SMTP sink fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]
# Set GUANXI_SCREENSHOTS=/some/dir to keep screenshots of the pages elsewhere as well.
SHOTS = [ARTIFACTS] + (
    [Path(os.environ["GUANXI_SCREENSHOTS"])] if os.environ.get("GUANXI_SCREENSHOTS") else []
)


def shot(page, name):
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"service-{name}.png"), full_page=True)


@pytest.fixture
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    _wait_for_request_threads()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return page


@pytest.fixture
def desk(make_staff):
    SLAPolicy.objects.create(name="Standard", first_response_minutes=240, resolution_minutes=2880)
    services.save_article(
        title="Returns and refunds",
        body="Return any item within 30 days; refunds reach your card in five business days.",
        published=True,
    )
    agent = make_staff("agent", username="li.na")
    account = sign_up(
        email="mei.chen@example.cn", password="pw-Secret-123", first_name="Mei", last_name="Chen"
    )
    return {"agent": agent, "customer": account.customer}


@pytest.mark.usefixtures("transactional_db")
def test_customer_asks_agent_answers_customer_rates(live_server, desk, smtp, browser):  # noqa: F811
    base = live_server.url

    # --- the customer signs in to the portal and submits a request ------------------------
    customer = new_page(browser)
    customer.goto(f"{base}/tickets/new/")
    assert "/account/login/" in customer.url
    customer.fill("input[name=username]", "mei.chen@example.cn")
    customer.fill("input[name=password]", "pw-Secret-123")
    customer.click("form button[type=submit].primary")
    customer.wait_for_url(f"{base}/tickets/new/")
    customer.fill("input[name=subject]", "Teapot arrived broken")
    customer.fill(
        "textarea[name=body]", "The lid of my teapot was broken. Can I return it for a refund?"
    )
    customer.click("form button[type=submit].primary")
    customer.wait_for_url(
        lambda url: "/tickets/" in url and url.rstrip("/").split("/")[-1].isdigit()
    )
    ticket = Ticket.objects.get()
    assert customer.locator("[data-testid=ticket-status]").inner_text() == "new"
    thread = customer.locator("[data-testid=thread]").inner_text()
    assert "The lid of my teapot was broken" in thread
    assert "Returns and refunds" in thread  # the automatic reply suggests the right article
    shot(customer, "portal-ticket")

    # --- the agent answers it in the console ----------------------------------------------
    agent = new_page(browser)
    agent.goto(f"{base}/console/service/")
    agent.fill("input[name=username]", "li.na")
    agent.fill("input[name=password]", "pw-Secret-123")
    agent.click("button[type=submit].primary")
    agent.wait_for_url(f"{base}/console/service/")
    agent.click("a[href*='view=unassigned']")
    agent.wait_for_url(lambda url: "view=unassigned" in url)
    rows = agent.locator("[data-testid=inbox-row]")
    assert rows.count() == 1
    shot(agent, "inbox")
    rows.first.locator("a.name").click()
    agent.wait_for_url(f"**/console/service/tickets/{ticket.pk}/")
    assert agent.locator("[data-testid=c360-name]").inner_text() == "Mei Chen"
    agent.fill("#reply textarea[name=body]", "Sorry about that! A new teapot ships today.")
    agent.select_option("#reply select[name=status]", "solved")
    agent.click("[data-testid=send-reply]")
    agent.wait_for_url(f"**/console/service/tickets/{ticket.pk}/")
    assert agent.locator("[data-testid=ticket-status]").inner_text() == "solved"
    shot(agent, "ticket")
    assert agent.js_errors == []

    # --- the customer sees the answer and rates it ----------------------------------------
    customer.reload()
    thread = customer.locator("[data-testid=thread]").inner_text()
    assert "A new teapot ships today." in thread
    assert customer.locator("[data-testid=ticket-status]").inner_text() == "solved"
    customer.check("#rate input[name=score][value='5']")
    customer.fill("#rate textarea[name=comment]", "Fast and friendly")
    customer.click("#rate button[type=submit]")
    customer.wait_for_selector("[data-testid=rating-done]")
    assert "5 out of 5" in customer.locator("[data-testid=rating-done]").inner_text()
    shot(customer, "portal-rated")
    assert customer.js_errors == []

    survey = SurveyResponse.objects.get(ticket=ticket)
    assert (survey.score, survey.comment, survey.agent.username) == (
        5,
        "Fast and friendly",
        "li.na",
    )
    # The answer also went out by email, threaded under the acknowledgement.
    mails = smtp.wait_for(3)
    answer = next(m for m in mails if m["Subject"].startswith("Re: "))
    assert answer["To"] == "mei.chen@example.cn" and answer["In-Reply-To"]

    # The agent sees the rating beside the ticket.
    agent.reload()
    assert agent.locator("[data-testid=csat-score]").inner_text() == "5/5"
