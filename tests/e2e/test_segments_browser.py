"""The segment builder in a real browser: build a segment by clicking, watch the live count,
save it, freeze it into a group."""

import pytest

from guanxi.marketing import services
from guanxi.marketing.models import EmailTemplate
from guanxi.segments.models import Group, Segment
from tests.e2e.conftest import ARTIFACTS, CHROMIUM
from tests.factories import make_customer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed"),
]


@pytest.fixture
def people(make_staff):
    make_staff("marketer", username="ma.rketer")
    EmailTemplate.objects.create(
        name="Care tips", subject_en="Tips for {{ first_name }}", body_en="Hello {{ first_name }}"
    )
    for i, (occupation, gender) in enumerate(
        [("nurse", "female"), ("nurse", "female"), ("nurse", "male"), ("teacher", "female")]
    ):
        make_customer(
            first_name=f"P{i}",
            occupation=occupation,
            gender=gender,
            emails=[f"p{i}@example.com"],
            consent_email_marketing=True,
            time_zone="Pacific/Kiritimati" if i == 1 else "UTC",
        )


@pytest.mark.usefixtures("transactional_db")
def test_build_a_segment_by_clicking_freeze_it_and_send_a_campaign(
    live_server, people, smtp_sink, settings, browser_page
):
    settings.GUANXI_QUIET_HOURS_START = settings.GUANXI_QUIET_HOURS_END = 0
    page = browser_page
    page.goto(f"{live_server.url}/console/login/?next=/console/segments/new/")
    page.fill("input[name=username]", "ma.rketer")
    page.fill("input[name=password]", "pw-Secret-123")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/console/segments/new/")

    page.fill("#segment-name", "Nurses (women)")
    page.select_option("#add-field", "occupation")
    page.locator("li.condition[data-field=occupation] input[type=text]").fill("nurse")
    page.wait_for_function("document.getElementById('live-count').textContent === '3'")
    page.select_option("#add-field", "gender")
    page.locator("li.condition[data-field=gender] label.chip", has_text="female").click()
    page.wait_for_function("document.getElementById('live-count').textContent === '2'")
    assert page.locator("#live-sample li").count() == 2

    page.click("text=Save segment")
    page.wait_for_url("**/console/segments/*/")
    segment = Segment.objects.get(name="Nurses (women)")
    assert segment.rule["conditions"][1] == {"field": "gender", "op": "in", "value": ["female"]}
    assert page.locator("table.data tbody tr").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-segment.png"), full_page=True)

    page.click("text=Freeze into a group")
    page.wait_for_url("**/console/groups/*/")
    group = Group.objects.get(source_segment=segment)
    assert group.members.count() == 2
    assert page.locator("table.data tbody tr").count() == 2

    # A campaign to the new segment, sent, then its results page.
    page.click("nav >> text=Campaigns")
    page.click("text=New campaign")
    page.fill("input[name=name]", "Care tips, November")
    page.select_option("select[name=template]", label="Care tips")
    page.select_option("select[name=segment]", label="Nurses (women)")
    page.click("text=Save as draft")
    page.wait_for_url("**/console/campaigns/*/")
    page.click("button:has-text('Send now')")
    page.wait_for_selector("text=messages queued")
    services.send_due()  # what the worker does every minute
    page.reload()
    assert page.locator("[data-kpi=sent]").inner_text() == "2"
    assert sorted(m["To"] for m in smtp_sink.messages) == ["p0@example.com", "p1@example.com"]
    page.screenshot(path=str(ARTIFACTS / "console-campaign.png"), full_page=True)
    assert page.js_errors == []
