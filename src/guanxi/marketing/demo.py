"""Demo data of marketing for ``guanxi demo``: two coupon offers, a draft campaign with a coupon
ready to send, and one campaign already sent to the store's champions — through the real
sender (to an in-memory mail backend, so the demo needs no mail server) — with a hard bounce
and a spam complaint fed back as real RFC 3464 / RFC 5965 reports.

Idempotent: does nothing when an offer already exists.
"""

from __future__ import annotations

from django.core.mail import get_connection
from django.utils import timezone

from guanxi.marketing import bounces, coupons, services
from guanxi.marketing.models import Campaign, Delivery, EmailTemplate, Offer

CHAMPIONS = {
    "match": "all",
    "conditions": [
        {"field": "rfm_group", "op": "in", "value": ["champions"]},
        {"field": "email_marketing_consent", "op": "is_true"},
    ],
}


def _dsn(delivery: Delivery) -> bytes:
    return (
        "From: MAILER-DAEMON@mail.example (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-Id: <demo-dsn-{delivery.pk}@mx>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example\r\n"
        f"\r\nFinal-Recipient: rfc822; {delivery.email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 The email account does not exist\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"To: {delivery.email}\r\nMessage-ID: {delivery.message_id}\r\n\r\n--B--\r\n"
    ).encode()


def _complaint(delivery: Delivery) -> bytes:
    return (
        "From: fbl@mailbox.example\r\nSubject: Abuse report\r\n"
        f"Message-ID: <demo-arf-{delivery.pk}@fbl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\r\n\r\n'
        "--A\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
        "--A\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nVersion: 1\r\nOriginal-Rcpt-To: {delivery.email}\r\n\r\n"
        "--A\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"To: {delivery.email}\r\nMessage-ID: {delivery.message_id}\r\n\r\n--A--\r\n"
    ).encode()


def seed_marketing_demo(stdout=None) -> None:
    from guanxi.segments.services import create_segment

    if Offer.objects.exists():
        return
    welcome = coupons.create_offer(name="Welcome 10 % off", value="10", valid_days=30)
    winter = coupons.create_offer(name="Winter 15 % off", value="15", valid_days=14)
    coupons.create_offer(
        name="20 off orders from 100", kind=Offer.Kind.AMOUNT, value="20", currency="USD"
    )
    champions = create_segment(
        name="Champions who want email",
        description="RFM champions with marketing consent.",
        rule=CHAMPIONS,
    )
    news = EmailTemplate.objects.create(
        name="Autumn news",
        subject_en="What's new this autumn, {{ first_name }}",
        body_en=(
            "Hello {{ first_name }},\n\nOur autumn collection is in: https://shop.example/autumn"
            "\n\nAs a thank-you: {{ coupon_code }} gives {{ coupon_value }} off until "
            "{{ coupon_expires }}.\n\nUnsubscribe: {{ unsubscribe_url }}"
        ),
        subject_zh="{{ first_name }}，秋季新品到了",
        body_zh=(
            "{{ first_name }}，您好：\n\n秋季新品已上架：https://shop.example/autumn\n\n"
            "感谢您的支持：使用 {{ coupon_code }} 可享 {{ coupon_value }} 优惠，"
            "有效期至 {{ coupon_expires }}。\n\n退订：{{ unsubscribe_url }}"
        ),
    )
    sale = EmailTemplate.objects.create(
        name="Winter sale",
        subject_en="Winter sale: {{ coupon_value }} off for you",
        body_en=(
            "Hello {{ first_name }},\n\nYour code {{ coupon_code }} is valid until "
            "{{ coupon_expires }}: https://shop.example/winter\n\n"
            "Unsubscribe: {{ unsubscribe_url }}"
        ),
        subject_zh="冬季特惠：专属 {{ coupon_value }} 优惠",
        body_zh=(
            "{{ first_name }}，您好：\n\n您的优惠码 {{ coupon_code }} "
            "有效期至 {{ coupon_expires }}："
            "https://shop.example/winter\n\n退订：{{ unsubscribe_url }}"
        ),
    )
    sent = Campaign.objects.create(
        name="Autumn news to champions",
        template=news,
        segment=champions,
        offer=welcome,
        per_minute=600,
    )
    Campaign.objects.create(
        name="Winter sale (draft)", template=sale, segment=champions, offer=winter
    )
    queued = services.queue_campaign(sent)
    connection = get_connection("django.core.mail.backends.locmem.EmailBackend")
    now = timezone.now()
    # No quiet hours or throttle in the demo's past: send at the stated time, all at once.
    from django.test.utils import override_settings

    with override_settings(GUANXI_QUIET_HOURS_START=0, GUANXI_QUIET_HOURS_END=0):
        Campaign.objects.filter(pk=sent.pk).update(per_minute=None)
        while services.send_due(now=now, limit=500, connection=connection).sent:
            pass
    Campaign.objects.filter(pk=sent.pk).update(per_minute=600)
    delivered = list(
        Delivery.objects.filter(campaign=sent, state=Delivery.State.SENT).order_by("id")[:2]
    )
    if len(delivered) == 2:
        bounces.receive(_dsn(delivered[0]), source="mailbox")
        bounces.receive(_complaint(delivered[1]), source="mailbox")
    if stdout is not None:
        stdout.write(f"Marketing demo: {queued} recipients of '{sent.name}', 3 coupon offers.")
