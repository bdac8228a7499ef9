"""Inbound and outbound email: a message to the support mailbox becomes a ticket (unknown
sender → prospect), the automatic and the agent's replies reach a real SMTP server threaded by
Message-ID / In-Reply-To / References, and the customer's answer lands on the same ticket."""

import io
import sys
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.management import call_command

from guanxi.customers import selectors as customer_selectors
from guanxi.service import inbound, services
from guanxi.service.models import Message, Ticket
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

SECRET = "inbound-test-secret"


def raw_email(
    *,
    sender="Lin Fang <lin.fang@example.cn>",
    subject="Parcel arrived damaged",
    body="The teapot arrived broken. What can I do?",
    message_id=None,
    in_reply_to=None,
    references=None,
    attachment=None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@shop.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example.cn")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    if attachment:
        name, data, maintype, subtype = attachment
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def post_webhook(client, raw: bytes, secret=SECRET):
    return client.post(
        "/api/v1/service/inbound-email",
        data=raw,
        content_type="message/rfc822",
        HTTP_X_GUANXI_SIGNATURE=inbound.sign(raw, secret),
    )


def test_email_to_support_becomes_a_ticket_and_the_reply_threads_back(
    client, smtp, settings, make_staff, django_capture_on_commit_callbacks
):
    settings.GUANXI_INBOUND_EMAIL_SECRET = SECRET
    first_id = "<first-0001@mail.example.cn>"
    raw = raw_email(
        message_id=first_id,
        attachment=("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image", "png"),
    )
    assert customer_selectors.find_customer_by_contact("email", "lin.fang@example.cn") is None

    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, raw)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["created_ticket"] is True and data["duplicate"] is False
    ticket = Ticket.objects.get(pk=data["ticket_id"])
    assert ticket.channel == "email" and ticket.subject == "Parcel arrived damaged"
    # the unknown sender became a prospect profile named from the From header
    prospect = customer_selectors.find_customer_by_contact("email", "lin.fang@example.cn")
    assert ticket.customer == prospect
    assert (prospect.first_name, prospect.last_name) == ("Lin", "Fang")
    assert not prospect.orders.exists()
    first = ticket.messages.order_by("id").first()
    assert first.email_message_id == first_id
    assert [a.filename for a in first.attachments.all()] == ["photo.png"]

    # the acknowledgement went out at once, threaded under the customer's email
    ack = smtp.wait_for(1)[0]
    assert ack["To"] == "lin.fang@example.cn"
    assert f"[#{ticket.pk}]" in ack["Subject"]
    assert ack["In-Reply-To"] == first_id
    assert ack["Message-ID"].startswith(f"<t{ticket.pk}.msg.")
    assert ack["Message-ID"].endswith("@shop.example>")
    assert ack["Auto-Submitted"] == "auto-replied"  # robots must not answer it (RFC 3834)

    # the same email delivered twice changes nothing
    again = post_webhook(client, raw).json()
    assert again["duplicate"] is True and again["ticket_id"] == ticket.pk
    assert Ticket.objects.count() == 1

    # the agent answers from the console
    agent = make_staff("agent")
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/console/service/tickets/{ticket.pk}/reply/",
            {"body": "Sorry! We will send a new teapot today."},
        )
    assert response.status_code == 302
    answer = smtp.wait_for(2)[1]
    assert answer["To"] == "lin.fang@example.cn"
    assert answer["Subject"] == f"Re: [#{ticket.pk}] Parcel arrived damaged"
    agent_msg = Message.objects.get(ticket=ticket, author_kind="agent")
    assert answer["Message-ID"] == agent_msg.email_message_id
    assert answer["In-Reply-To"] == ack["Message-ID"]
    assert answer["References"].split() == [first_id, ack["Message-ID"]]
    assert "new teapot" in answer.get_content()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING and ticket.first_response_at is not None

    # the customer answers the agent's email (with the quote below): same ticket, open again
    reply_raw = raw_email(
        subject=f"Re: [#{ticket.pk}] Parcel arrived damaged",
        body="Great, thank you!\n\nOn Monday support wrote:\n> Sorry! We will send a new teapot",
        in_reply_to=answer["Message-ID"],
        references=f"{first_id} {answer['Message-ID']}",
    )
    client.logout()
    result = post_webhook(client, reply_raw).json()
    assert result["ticket_id"] == ticket.pk and result["created_ticket"] is False
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    last = ticket.messages.order_by("-id").first()
    assert last.author_kind == "customer" and last.body == "Great, thank you!"


def test_webhook_refuses_unsigned_or_wrongly_signed_mail(client, settings):
    settings.GUANXI_INBOUND_EMAIL_SECRET = SECRET
    raw = raw_email()
    assert post_webhook(client, raw, secret="wrong").status_code == 401
    response = client.post("/api/v1/service/inbound-email", data=raw, content_type="text/plain")
    assert response.status_code == 401
    settings.GUANXI_INBOUND_EMAIL_SECRET = ""
    assert post_webhook(client, raw).status_code == 401  # no secret configured: refuse all
    assert Ticket.objects.count() == 0


def test_webhook_answers_422_for_mail_without_a_sender(client, settings):
    settings.GUANXI_INBOUND_EMAIL_SECRET = SECRET
    response = post_webhook(client, b"Subject: hello\r\n\r\nno sender here\r\n")
    assert response.status_code == 422
    assert "sender" in response.json()["detail"]


def test_pipe_command_reads_one_message_from_stdin(monkeypatch, smtp):
    known = make_customer(first_name="Ann", last_name="Lee", emails=["ann.lee@example.com"])
    raw = raw_email(
        sender="Ann Lee <Ann.Lee@example.com>", subject="Invoice", body="Need a VAT invoice"
    )

    class Stdin:
        buffer = io.BytesIO(raw)

    monkeypatch.setattr(sys, "stdin", Stdin)
    out = io.StringIO()
    call_command("service", "pipe-mail", stdout=out)
    ticket = Ticket.objects.get()
    assert out.getvalue().strip() == f"new ticket #{ticket.pk}"
    assert ticket.customer == known  # a known address is not duplicated into a prospect


def test_subject_reference_threads_only_for_the_tickets_own_customer(smtp):
    owner = make_customer(first_name="Ann", emails=["ann@example.com"])
    ticket = services.create_ticket(
        customer=owner, subject="Size", body="Which size?", channel="email", auto_reply=False
    )
    same = inbound.receive_email(
        raw_email(sender="ann@example.com", subject=f"Re: [#{ticket.pk}] Size", body="M please")
    )
    assert same.ticket == ticket and not same.created_ticket
    stranger = inbound.receive_email(
        raw_email(sender="eve@example.com", subject=f"Re: [#{ticket.pk}] Size", body="hi")
    )
    assert stranger.ticket != ticket and stranger.created_ticket


def test_mail_from_robots_gets_a_ticket_but_no_automatic_answer(
    smtp, django_capture_on_commit_callbacks
):
    msg = EmailMessage()
    msg["From"] = "mailer@vacation.example"
    msg["Subject"] = "Out of office"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Message-ID"] = make_msgid()
    msg.set_content("I am away until Monday.")
    with django_capture_on_commit_callbacks(execute=True):
        result = inbound.receive_email(msg.as_bytes())
    assert result.created_ticket and result.ticket.messages.count() == 1
    assert smtp.messages == []
