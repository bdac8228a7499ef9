"""The customer portal: sign-up and sign-in (separate from staff), my requests, new request
with an attachment, the thread, write back, "solved", help centre search in both languages."""

import re

import pytest
from django.urls import reverse

from guanxi.customers import selectors as customer_selectors
from guanxi.portal.models import PortalAccount
from guanxi.service import services
from guanxi.service.models import Ticket
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_sign_up_with_a_new_address_creates_a_prospect_and_signs_in(client):
    response = client.post(
        reverse("portal:signup"),
        {
            "first_name": "Xiao",
            "last_name": "Wang",
            "email": "xw@example.cn",
            "password": "pw-Secret-123",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:tickets")
    account = PortalAccount.objects.get(email="xw@example.cn")
    assert account.customer == customer_selectors.find_customer_by_contact("email", "xw@example.cn")
    assert account.user.is_staff is False
    assert client.get(reverse("portal:tickets")).status_code == 200
    # and signing in again later works with the email address
    client.post(reverse("portal:logout"))
    response = client.post(
        reverse("portal:login"), {"username": "XW@example.cn", "password": "pw-Secret-123"}
    )
    assert response.status_code == 302


def test_sign_up_with_an_existing_address_links_only_after_confirmation(
    client,
    smtp,
    django_capture_on_commit_callbacks,
):
    existing = make_customer(first_name="Mei", emails=["mei@example.com"])
    services.create_ticket(
        customer=existing,
        subject="Private matter",
        body="secret",
        channel="phone",
        auto_reply=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:signup"),
            {"email": "mei@example.com", "password": "pw-Secret-123"},
        )
    account = PortalAccount.objects.get(email="mei@example.com")
    assert account.customer is None
    page = client.get(reverse("portal:tickets")).content.decode()
    assert "Private matter" not in page and "confirmation link" in page

    mail = smtp.wait_for(1)[0]
    assert mail["To"] == "mei@example.com"
    link = re.search(r"https://help\.shop\.example(/account/confirm/\S+/)", mail.get_content())
    assert client.get(link.group(1)).status_code == 302
    account.refresh_from_db()
    assert account.customer == existing and account.email_verified
    assert "Private matter" in client.get(reverse("portal:tickets")).content.decode()


def test_new_request_thread_reply_and_solve(client, smtp, django_capture_on_commit_callbacks):
    client.post(reverse("portal:signup"), {"email": "ann@example.com", "password": "pw-Secret-123"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:ticket_new"),
            {"subject": "Wrong size", "body": "I got an S instead of an M"},
        )
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("portal:ticket", args=[ticket.pk])
    assert ticket.channel == "web" and ticket.customer.portal_accounts.exists()
    assert smtp.wait_for(1)[0]["To"] == "ann@example.com"  # acknowledgement

    page = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "I got an S instead of an M" in page
    client.post(reverse("portal:ticket", args=[ticket.pk]), {"body": "Order A-77"})
    assert ticket.messages.filter(body="Order A-77", author_kind="customer").exists()
    client.post(reverse("portal:ticket_solve", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    page = client.get(reverse("portal:ticket", args=[ticket.pk])).content.decode()
    assert "Rate our help" in page


def test_refused_attachment_is_reported_on_the_form(client):
    client.post(reverse("portal:signup"), {"email": "f@example.com", "password": "pw-Secret-123"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("portal:ticket_new"),
        {
            "subject": "Virus",
            "body": "see file",
            "attachment": SimpleUploadedFile("tool.exe", b"MZ\x90\x00"),
        },
    )
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert Ticket.objects.count() == 0


def test_help_centre_browse_and_search_in_both_languages(client):
    zh = services.save_article(
        title="如何修改收货地址",
        body="订单发货前可以在订单详情页修改收货地址。",
        language="zh-hans",
        published=True,
    )
    en = services.save_article(
        title="Changing the delivery address",
        body="Before shipping you can edit the address.",
        published=True,
    )
    draft = services.save_article(title="Secret draft", body="address", published=False)
    page = client.get(reverse("portal:help")).content.decode()
    assert zh.title in page and en.title in page and draft.title not in page
    found = client.get(reverse("portal:help"), {"q": "地址写错了"}).content.decode()
    assert found.index(zh.title) < (found.index(en.title) if en.title in found else len(found))
    found = client.get(reverse("portal:help"), {"q": "change address"}).content.decode()
    assert en.title in found and draft.title not in found
    assert client.get(reverse("portal:article", args=[zh.pk])).status_code == 200
    assert client.get(reverse("portal:article", args=[draft.pk])).status_code == 404


def test_home_page_renders_for_visitors(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200 and "How can we help?" in response.content.decode()


def test_chat_is_one_ticket_per_conversation_and_shows_the_agents_answers(client, make_staff):
    client.post(reverse("portal:signup"), {"email": "c@example.com", "password": "pw-Secret-123"})
    assert client.get(reverse("portal:chat")).status_code == 200
    first = client.post(reverse("portal:chat_send"), {"body": "Hi, is the red teapot in stock?"})
    assert first.status_code == 200
    data = first.json()
    ticket = Ticket.objects.get(pk=data["ticket"])
    assert ticket.channel == "chat" and ticket.subject == "Hi, is the red teapot in stock?"
    last_id = data["messages"][-1]["id"]
    client.post(reverse("portal:chat_send"), {"body": "I need two.", "after": last_id})
    assert Ticket.objects.count() == 1 and ticket.messages.count() == 2

    services.reply(ticket, author=make_staff("agent", username="li.na"), body="Yes, 5 left!")
    services.reply(ticket, author=None, body="internal only", internal=True)
    new = client.get(reverse("portal:chat_messages"), {"after": last_id}).json()["messages"]
    assert [(m["mine"], m["body"]) for m in new] == [(True, "I need two."), (False, "Yes, 5 left!")]
    assert client.post(reverse("portal:chat_send"), {"body": "  "}).status_code == 422
