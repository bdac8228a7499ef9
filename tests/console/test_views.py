"""Staff console pages: permissions per role, search, filters, 360 page, editing, export, i18n."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, reverse
from django.utils import timezone

from guanxi.commerce.models import Product
from guanxi.console import urls as console_urls
from guanxi.core.models import AuditEntry
from guanxi.core.roles import ROLES
from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import set_contact_validity, update_customer
from guanxi.marketing.models import Campaign, EmailTemplate, Flow
from guanxi.segments.models import Group, Segment
from tests.console.factories import make_customer, make_event, make_order

pytestmark = pytest.mark.django_db

ALL_ROLES = sorted(ROLES)

# Which roles may open which page: the spec this test holds roles.py and the views to.
PAGES = {
    "console:home": ({"admin", "marketer", "agent", "sales_rep", "analyst"}, "commerce.view_order"),
    "console:customer_list": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "customers.view_customer",
    ),
    "console:customer_export": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "customers.view_customer",
    ),
    "console:customer_detail": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "customers.view_customer",
    ),
    "console:customer_edit": ({"admin", "agent", "sales_rep"}, "customers.change_customer"),
    "console:order_list": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "commerce.view_order",
    ),
    "console:order_detail": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "commerce.view_order",
    ),
    "console:analytics": (
        {"admin", "marketer", "agent", "sales_rep", "analyst"},
        "analytics.view_customerscore",
    ),
    "console:segment_list": ({"admin", "marketer", "analyst"}, "segments.view_segment"),
    "console:segment_new": ({"admin", "marketer"}, "segments.add_segment"),
    "console:segment_preview": ({"admin", "marketer", "analyst"}, "segments.view_segment"),
    "console:segment_detail": ({"admin", "marketer", "analyst"}, "segments.view_segment"),
    "console:segment_refresh": ({"admin", "marketer"}, "segments.change_segment"),
    "console:segment_snapshot": ({"admin", "marketer"}, "segments.add_group"),
    "console:segment_delete": ({"admin", "marketer"}, "segments.delete_segment"),
    "console:group_new": ({"admin", "marketer"}, "segments.add_group"),
    "console:group_detail": ({"admin", "marketer", "analyst"}, "segments.view_group"),
    "console:group_delete": ({"admin", "marketer"}, "segments.delete_group"),
    "console:campaign_list": ({"admin", "marketer", "analyst"}, "marketing.view_campaign"),
    "console:campaign_new": ({"admin", "marketer"}, "marketing.add_campaign"),
    "console:campaign_detail": ({"admin", "marketer", "analyst"}, "marketing.view_campaign"),
    "console:campaign_action": ({"admin", "marketer"}, "marketing.change_campaign"),
    "console:template_new": ({"admin", "marketer"}, "marketing.add_emailtemplate"),
    "console:flow_list": ({"admin", "marketer", "analyst"}, "marketing.view_flow"),
    "console:offer_list": ({"admin", "marketer", "analyst"}, "marketing.view_offer"),
    "console:offer_new": ({"admin", "marketer"}, "marketing.add_offer"),
    "console:offer_detail": ({"admin", "marketer", "analyst"}, "marketing.view_offer"),
    "console:bounce_list": ({"admin", "marketer", "analyst"}, "marketing.view_bouncereport"),
    "console:flow_edit": ({"admin", "marketer"}, "marketing.change_flow"),
    "console:template_edit": ({"admin", "marketer"}, "marketing.change_emailtemplate"),
    "console:identity_queue": ({"admin", "agent", "analyst"}, "customers.view_matchcandidate"),
    "console:identity_compare": ({"admin", "agent", "analyst"}, "customers.view_matchcandidate"),
    "console:identity_merges": ({"admin", "agent", "analyst"}, "customers.view_customermerge"),
    "console:integrations": ({"admin", "analyst"}, "integrations.view_store"),
    "console:integrations_webhooks": (
        {"admin", "analyst"},
        "integrations.view_webhooksubscription",
    ),
    "console:rules": ({"admin", "marketer", "sales_rep", "analyst"}, "analytics.view_productrule"),
    "console:product_detail": (
        {"admin", "marketer", "sales_rep", "analyst"},
        "analytics.view_productrule",
    ),
    "console:service_inbox": ({"admin", "agent", "analyst"}, "service.view_ticket"),
    "console:service_ticket": ({"admin", "agent", "analyst"}, "service.view_ticket"),
    "console:service_ticket_new": ({"admin", "agent"}, "service.add_ticket"),
    "console:service_kb": ({"admin", "marketer", "agent"}, "service.view_kbarticle"),
    "console:service_kb_new": ({"admin", "agent"}, "service.add_kbarticle"),
    "console:service_kb_edit": ({"admin", "agent"}, "service.change_kbarticle"),
    "console:service_sla_report": ({"admin", "agent", "analyst"}, "service.view_service_report"),
    "console:service_feedback": (
        {"admin", "marketer", "agent", "analyst"},
        "service.view_surveyresponse",
    ),
}
# Pages that only take POST (a GET by an allowed role is 405, by anyone else 403).
POST_ONLY = {
    "console:segment_preview",
    "console:segment_refresh",
    "console:segment_snapshot",
    "console:segment_delete",
    "console:group_new",
    "console:group_delete",
    "console:campaign_action",
}
# Actions (POST only, tested in tests/integrations/test_console.py) and their permissions.
POST_ACTIONS = {
    "console:identity_decide": "customers.change_matchcandidate",
    "console:identity_undo": "customers.change_customermerge",
    "console:dead_letter_replay": "integrations.change_deadletter",
    "console:webhook_add": "integrations.add_webhooksubscription",
    "console:webhook_redeliver": "integrations.change_webhookdelivery",
}
# POST-only actions (checked with POSTs in tests/service/test_console.py).
POST_PAGES = {
    "console:service_ticket_reply": ({"admin", "agent"}, "service.change_ticket"),
    "console:service_ticket_update": ({"admin", "agent"}, "service.change_ticket"),
    "console:service_ticket_merge": ({"admin", "agent"}, "service.change_ticket"),
    "console:service_bulk": ({"admin", "agent"}, "service.change_ticket"),
}
# File downloads (checked in tests/service/test_tickets.py).
FILE_PAGES = {
    "console:service_attachment": ({"admin", "agent", "analyst"}, "service.view_ticket"),
}


@pytest.fixture
def store():
    """A small store: a profiled customer with orders, a return, events and a guest order."""
    ann = make_customer(
        first_name="Ann",
        last_name="Lee",
        country="United Kingdom",
        birthday=dt.date(1990, 5, 17),
        emails=["ann.lee@example.com"],
        phones=["+44 20 7946 0018"],
        identities=[("shopify", "SH-4242")],
    )
    order = make_order(
        ann,
        lines=[("85123A", "Heart T-light holder", 6, "2.95"), ("22423", "Cakestand", 1, "12.75")],
        placed_at=timezone.now() - dt.timedelta(days=3),
        external_id="536365",
    )
    refund = make_order(
        ann,
        kind="return",
        status="refunded",
        lines=[("22423", "Cakestand", 1, "12.75")],
        external_id="C536379",
    )
    make_event(ann, "searched", query="cake stand")
    guest = make_order(None, guest_email="walk-in@example.org", external_id="G-1")
    bob = make_customer(
        first_name="Bob",
        last_name="Novak",
        country="France",
        customer_type="reseller",
        emails=["bob@novak.example"],
    )
    return {"ann": ann, "bob": bob, "order": order, "refund": refund, "guest": guest}


def demo_campaign():
    template, _ = EmailTemplate.objects.get_or_create(
        name="Hello", defaults={"subject_en": "Hello", "body_en": "Hi {{ first_name }}"}
    )
    campaign = Campaign.objects.filter(name="Spring").first()
    return campaign or Campaign.objects.create(name="Spring", template=template)


def page_url(name: str, store) -> str:
    if name.startswith("console:segment_") and name not in (
        "console:segment_list",
        "console:segment_new",
        "console:segment_preview",
    ):
        return reverse(name, args=[Segment.objects.get(builtin="advocates").pk])
    if name in ("console:campaign_detail", "console:campaign_action"):
        return reverse(name, args=[demo_campaign().pk])
    if name == "console:flow_edit":
        return reverse(name, args=[Flow.objects.get(builtin="welcome").pk])
    if name == "console:offer_detail":
        from guanxi.marketing.models import Offer

        offer, _ = Offer.objects.get_or_create(name="Ten percent", defaults={"value": 10})
        return reverse(name, args=[offer.pk])
    if name == "console:template_edit":
        return reverse(name, args=[demo_campaign().template_id])
    if name in ("console:group_detail", "console:group_delete"):
        group, _ = Group.objects.get_or_create(name="Call list")
        return reverse(name, args=[group.pk])
    if name in ("console:customer_detail", "console:customer_edit"):
        return reverse(name, args=[store["ann"].pk])
    if name == "console:order_detail":
        return reverse(name, args=[store["order"].pk])
    if name == "console:identity_compare":
        from guanxi.customers.models import MatchCandidate

        pair, _ = MatchCandidate.objects.get_or_create(
            customer_a=store["ann"], customer_b=store["bob"], defaults={"probability": 0.9}
        )
        return reverse(name, args=[pair.pk])
    if name == "console:product_detail":
        return reverse(name, args=[store["order"].lines.first().product_id])
    if name == "console:service_ticket":
        from guanxi.service.services import create_ticket

        ticket = create_ticket(
            customer=store["ann"], subject="Cake stand", body="Broken", channel="phone"
        )
        return reverse(name, args=[ticket.pk])
    if name == "console:service_kb_edit":
        from guanxi.service.services import save_article

        article = save_article(title="Returns", body="Send it back within 30 days.")
        return reverse(name, args=[article.pk])
    return reverse(name)


def login(client, user):
    client.force_login(user)
    return client


# --- Permissions -----------------------------------------------------------------------------


def test_every_console_page_declares_a_permission():
    public = {"login", "logout"}
    for pattern in console_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in public:
            continue
        declared = getattr(pattern.callback, "console_permission", None)
        assert declared, f"console:{pattern.name} declares no permission"
        if f"console:{pattern.name}" in POST_ACTIONS:
            assert POST_ACTIONS[f"console:{pattern.name}"] == declared
            continue
        pages = PAGES | POST_PAGES | FILE_PAGES
        assert f"console:{pattern.name}" in pages, f"console:{pattern.name} missing from PAGES"
        assert pages[f"console:{pattern.name}"][1] == declared


@pytest.mark.parametrize("name", sorted(PAGES))
def test_anonymous_visitors_are_sent_to_the_login_page(client, store, name):
    url = page_url(name, store)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('console:login')}?next={url.replace(':', '%3A')}"


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_role_gets_exactly_the_pages_its_permissions_allow(
    client, make_staff, store, role, name
):
    user = make_staff(role)
    allowed, permission = PAGES[name]
    assert user.has_perm(permission) == (role in allowed), "roles.py and PAGES disagree"
    response = login(client, user).get(page_url(name, store))
    assert response.status_code == ((405 if name in POST_ONLY else 200) if role in allowed else 403)


def test_signed_in_non_staff_users_get_403_even_with_the_permission(client, store):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("shopper", password="pw-Secret-123")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    response = login(client, user).get(reverse("console:customer_list"))
    assert response.status_code == 403


def test_login_refuses_non_staff_and_signs_staff_in(client, make_staff):
    User.objects.create_user("shopper", password="pw-Secret-123")
    response = client.post(
        reverse("console:login"), {"username": "shopper", "password": "pw-Secret-123"}
    )
    assert response.status_code == 200
    assert "no access to the staff console" in response.content.decode()

    make_staff("agent")
    response = client.post(
        reverse("console:login") + "?next=/console/customers/",
        {"username": "agent-user", "password": "pw-Secret-123", "next": "/console/customers/"},
    )
    assert response.status_code == 302 and response["Location"] == "/console/customers/"


def test_logout_is_a_post_and_returns_to_login(admin_user_client):
    response = admin_user_client.post(reverse("console:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("console:login")
    assert admin_user_client.get(reverse("console:home")).status_code == 302


def test_navigation_shows_admin_link_only_to_superusers(client, make_staff, store):
    admin_page = login(client, make_staff("admin")).get(reverse("console:home")).content.decode()
    assert reverse("admin:index") in admin_page
    client.logout()
    page = login(client, make_staff("marketer")).get(reverse("console:home")).content.decode()
    assert reverse("admin:index") not in page
    assert reverse("console:customer_list") in page and reverse("console:order_list") in page


# --- Customers list --------------------------------------------------------------------------


def list_names(response) -> list[str]:
    return [c.display_name for c in response.context["page"].object_list]


@pytest.mark.parametrize(
    "query", ["ann", "Ann Lee", "ANN.LEE@example", "2079460018", "SH-4242", "sh-4242"]
)
def test_search_finds_a_customer_by_name_email_phone_and_external_id(
    admin_user_client, store, query
):
    response = admin_user_client.get(reverse("console:customer_list"), {"q": query})
    assert list_names(response) == ["Ann Lee"]


def test_roles_without_contact_access_cannot_search_by_email(client, make_staff, store):
    login(client, make_staff("analyst"))
    url = reverse("console:customer_list")
    assert list_names(client.get(url, {"q": "ann.lee@example.com"})) == []
    assert list_names(client.get(url, {"q": "SH-4242"})) == ["Ann Lee"]
    assert "ann.lee@example.com" not in client.get(url).content.decode()


def test_filters_narrow_the_list(admin_user_client, store):
    url = reverse("console:customer_list")
    assert list_names(admin_user_client.get(url, {"customer_type": "reseller"})) == ["Bob Novak"]
    assert list_names(admin_user_client.get(url, {"country": "United Kingdom"})) == ["Ann Lee"]
    assert list_names(admin_user_client.get(url, {"has_orders": "true"})) == ["Ann Lee"]
    assert list_names(admin_user_client.get(url, {"has_orders": "false"})) == ["Bob Novak"]
    empty = admin_user_client.get(url, {"q": "nobody-like-this"})
    assert list_names(empty) == []
    assert "No customer matches" in empty.content.decode()


def test_merged_profiles_are_not_listed(admin_user_client, store):
    ghost = make_customer(first_name="Ann", last_name="Lee-Duplicate")
    Customer.objects.filter(pk=ghost.pk).update(merged_into=store["ann"])
    response = admin_user_client.get(reverse("console:customer_list"), {"q": "ann"})
    assert list_names(response) == ["Ann Lee"]
    # Opening the absorbed profile lands on its survivor.
    detail = admin_user_client.get(reverse("console:customer_detail", args=[ghost.pk]))
    assert detail.status_code == 302
    assert detail["Location"] == reverse("console:customer_detail", args=[store["ann"].pk])


def test_sortable_columns(admin_user_client, store):
    url = reverse("console:customer_list")
    assert list_names(admin_user_client.get(url, {"sort": "-spent"}))[0] == "Ann Lee"
    assert list_names(admin_user_client.get(url, {"sort": "spent"}))[0] == "Bob Novak"
    assert list_names(admin_user_client.get(url, {"sort": "name"})) == ["Ann Lee", "Bob Novak"]
    assert list_names(admin_user_client.get(url, {"sort": "-name"})) == ["Bob Novak", "Ann Lee"]
    # An unknown sort key falls back to newest first instead of failing.
    assert admin_user_client.get(url, {"sort": "password"}).status_code == 200


def test_pagination(admin_user_client):
    for i in range(30):
        make_customer(first_name="Page", last_name=f"Person{i:02d}")
    url = reverse("console:customer_list")
    first = admin_user_client.get(url, {"sort": "name"})
    second = admin_user_client.get(url, {"sort": "name", "page": 2})
    assert len(first.context["page"].object_list) == 25
    assert list_names(second) == [f"Page Person{i:02d}" for i in range(25, 30)]
    assert "sort=name&amp;page=2" in first.content.decode()


def test_empty_store_tells_what_to_do(admin_user_client):
    for name in ("console:customer_list", "console:order_list", "console:home"):
        body = admin_user_client.get(reverse(name)).content.decode()
        assert "guanxi simulate" in body and "guanxi import" in body


def test_csv_export_follows_the_current_filter(admin_user_client, store):
    response = admin_user_client.get(reverse("console:customer_export"), {"country": "France"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["Bob Novak"]
    assert rows[0]["email"] == "bob@novak.example"

    every = admin_user_client.get(reverse("console:customer_export"), {"sort": "name"})
    text = b"".join(every.streaming_content).decode("utf-8-sig")
    names = [r["name"] for r in csv.DictReader(io.StringIO(text))]
    assert names == ["Ann Lee", "Bob Novak"]


def test_csv_export_defuses_spreadsheet_formulas(admin_user_client):
    make_customer(first_name='=HYPERLINK("http://x")', last_name="", emails=[])
    response = admin_user_client.get(reverse("console:customer_export"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"].startswith("'=HYPERLINK")


def test_csv_export_leaves_out_emails_for_roles_without_contact_access(client, make_staff, store):
    login(client, make_staff("analyst"))
    response = client.get(reverse("console:customer_export"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "email" not in text.splitlines()[0]
    assert "@" not in text


def test_list_query_count_is_bounded(admin_user_client, django_assert_max_num_queries):
    for i in range(40):
        customer = make_customer(first_name="Bulk", last_name=f"Buyer{i}", emails=[f"b{i}@x.io"])
        make_order(customer, external_id=f"B{i}")
    with django_assert_max_num_queries(12):
        response = admin_user_client.get(reverse("console:customer_list"), {"sort": "-spent"})
    assert len(response.context["page"].object_list) == 25


# --- Customer 360 ----------------------------------------------------------------------------


def test_360_shows_profile_age_contacts_identities_orders_and_history(
    admin_user_client, make_staff, store
):
    ann = store["ann"]
    email = ann.contact_points.get(kind=ContactPoint.Kind.EMAIL)
    set_contact_validity(email, ContactPoint.Validity.BOUNCING)
    owner = make_staff("sales_rep")
    update_customer(ann, actor=owner, channel="console", occupation="nurse", owner=owner)

    response = admin_user_client.get(reverse("console:customer_detail", args=[ann.pk]))
    body = response.content.decode()
    age = Customer.objects.get(pk=ann.pk).age_on(timezone.localdate())
    assert f"<strong>{age}</strong> years old" in body
    assert "ann.lee@example.com" in body and "bouncing" in body
    assert "SH-4242" in body and "shopify" in body
    assert "Order 536365" in body and "Return C536379" in body
    assert "Searched" in body and "cake stand" in body
    # Profile changes: who, what, old → new, with the owner by name.
    assert "sales_rep-user updated the profile" in body
    assert '<span class="new">nurse</span>' in body
    assert '<span class="new">sales_rep-user</span>' in body
    stats = response.context["c360"].stats
    assert stats.order_count == 1 and stats.return_count == 1
    assert str(stats.spent[0].amount) == "17.7000"  # 6 × 2.95 + 12.75 − 12.75


def test_360_hides_contact_details_from_roles_without_access(client, make_staff, store):
    ann = store["ann"]
    set_contact_validity(ann.contact_points.first(), ContactPoint.Validity.INVALID)
    login(client, make_staff("analyst"))
    body = client.get(reverse("console:customer_detail", args=[ann.pk])).content.decode()
    assert "Ann Lee" in body
    assert "ann.lee@example.com" not in body
    assert "Edit profile" not in body


def test_360_timeline_filter_and_pagination(admin_user_client, store):
    ann = store["ann"]
    for i in range(25):
        update_customer(ann, occupation=f"job {i}")
    url = reverse("console:customer_detail", args=[ann.pk])
    changes = admin_user_client.get(url, {"tl": "change"}).context["timeline"]
    assert {item.kind for item in changes.object_list} == {"change"}
    assert changes.paginator.count == 26  # created + 25 updates
    assert changes.object_list[0].changes[0].new == "job 24"  # newest first
    orders = admin_user_client.get(url, {"tl": "order"}).context["timeline"]
    assert [i.obj.external_id for i in orders.object_list] == ["C536379", "536365"]
    page2 = admin_user_client.get(url, {"tl_page": 2}).context["timeline"]
    assert page2.number == 2 and len(page2.object_list) == 9  # 2 orders + 1 event + 26 = 29


def test_360_query_count_does_not_grow_with_history(
    admin_user_client, store, django_assert_max_num_queries
):
    ann = store["ann"]
    url = reverse("console:customer_detail", args=[ann.pk])
    for i in range(30):
        make_order(ann, external_id=f"H{i}")
        make_event(ann, "viewed_product")
        update_customer(ann, occupation=f"job {i}")
    with django_assert_max_num_queries(20):
        response = admin_user_client.get(url)
    assert len(response.context["timeline"].object_list) == 20


def test_unknown_customer_is_404(admin_user_client):
    assert admin_user_client.get(reverse("console:customer_detail", args=[999])).status_code == 404


# --- Editing ---------------------------------------------------------------------------------


def edit_data(customer, **changes):
    data = {
        "kind": customer.kind,
        "customer_type": customer.customer_type,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company_name": customer.company_name,
        "gender": customer.gender,
        "birthday": customer.birthday.isoformat() if customer.birthday else "",
        "occupation": customer.occupation,
        "interests": ", ".join(customer.interests),
        "country": customer.country,
        "language": customer.language,
        "time_zone": customer.time_zone,
        "owner": customer.owner_id or "",
    }
    if customer.consent_email_marketing:
        data["consent_email_marketing"] = "on"
    data.update(changes)
    return data


def test_editing_the_profile_records_who_changed_what(client, make_staff, store):
    ann = store["ann"]
    agent = make_staff("agent")
    login(client, agent)
    url = reverse("console:customer_edit", args=[ann.pk])
    response = client.post(
        url,
        edit_data(
            ann,
            customer_type="reseller",
            occupation="baker",
            interests="tea, 书法",
            consent_email_marketing="on",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:customer_detail", args=[ann.pk])

    entry = AuditEntry.objects.filter(object_id=ann.pk, action="update").latest("id")
    assert entry.actor == agent and entry.channel == "console"
    assert entry.changes == {
        "customer_type": ["individual", "reseller"],
        "occupation": ["", "baker"],
        "interests": [[], ["tea", "书法"]],
        "consent_email_marketing": [False, True],
    }
    ann.refresh_from_db()
    assert ann.customer_type == "reseller" and ann.consent_updated_at is not None

    # Saving again without changes writes nothing.
    before = AuditEntry.objects.count()
    client.post(url, edit_data(ann))
    assert AuditEntry.objects.count() == before

    page = client.get(reverse("console:customer_detail", args=[ann.pk])).content.decode()
    assert "agent-user updated the profile" in page
    assert '<span class="old">individual buyer</span>' in page


def test_edit_refuses_a_birthday_in_the_future(admin_user_client, store):
    ann = store["ann"]
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = admin_user_client.post(
        reverse("console:customer_edit", args=[ann.pk]), edit_data(ann, birthday=tomorrow)
    )
    assert response.status_code == 200
    assert "birthday" in response.context["form"].errors
    assert not AuditEntry.objects.filter(object_id=ann.pk, action="update").exists()


def test_roles_without_change_permission_cannot_post_edits(client, make_staff, store):
    ann = store["ann"]
    login(client, make_staff("marketer"))
    response = client.post(
        reverse("console:customer_edit", args=[ann.pk]), edit_data(ann, occupation="spy")
    )
    assert response.status_code == 403
    ann.refresh_from_db()
    assert ann.occupation == ""


# --- Orders and home -------------------------------------------------------------------------


def test_order_list_search_guest_and_return_badge(admin_user_client, store):
    url = reverse("console:order_list")
    body = admin_user_client.get(url).content.decode()
    assert "guest" in body and "walk-in@example.org" in body
    assert "return / credit note" in body
    found = admin_user_client.get(url, {"q": "C536379"}).context["page"].object_list
    assert [o.external_id for o in found] == ["C536379"]
    by_name = admin_user_client.get(url, {"q": "ann lee"}).context["page"].object_list
    assert {o.external_id for o in by_name} == {"536365", "C536379"}
    returns = admin_user_client.get(url, {"kind": "return"}).context["page"].object_list
    assert [o.external_id for o in returns] == ["C536379"]


def test_order_page_shows_snapshot_lines_and_customer(admin_user_client, store):
    order = store["order"]
    Product.objects.filter(sku="22423").update(name="Regency cakestand (new)")
    body = admin_user_client.get(reverse("console:order_detail", args=[order.pk])).content.decode()
    assert "85123A" in body and "Heart T-light holder" in body and "2.95 GBP" in body
    assert "now in the catalogue as “Regency cakestand (new)”" in body
    assert reverse("console:customer_detail", args=[store["ann"].pk]) in body

    guest = admin_user_client.get(reverse("console:order_detail", args=[store["guest"].pk]))
    assert "placed as a guest" in guest.content.decode()
    refund = admin_user_client.get(reverse("console:order_detail", args=[store["refund"].pk]))
    assert "return / credit note" in refund.content.decode()


def test_home_shows_the_period_numbers(admin_user_client, store):
    response = admin_user_client.get(reverse("console:home"))
    summary = response.context["summary"]
    assert summary.orders == 2  # Ann's order + the guest order
    assert summary.returns == 1
    assert summary.currency == "GBP"
    assert summary.top_products[0].sku == "85123A"
    body = response.content.decode()
    assert "vendor/chart.umd.min.js" in body and 'id="revenue-data"' in body


def test_home_rejects_a_backwards_date_range(admin_user_client, store):
    response = admin_user_client.get(
        reverse("console:home"), {"start": "2026-02-01", "end": "2026-01-01"}
    )
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()


# --- Language --------------------------------------------------------------------------------


def test_language_switch_renders_chinese(admin_user_client, store):
    response = admin_user_client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("console:customer_list")}
    )
    assert response.status_code == 302
    body = admin_user_client.get(reverse("console:customer_list")).content.decode()
    assert '<html lang="zh-hans">' in body
    assert "客户" in body and "订单" in body and "导出 CSV" in body
    assert "Customers" not in body.split("<body", 1)[1].split("</nav>", 1)[0]

    detail = admin_user_client.get(reverse("console:customer_detail", args=[store["ann"].pk]))
    assert "编辑资料" in detail.content.decode()
