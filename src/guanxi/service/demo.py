"""Demo data of the service desk for ``guanxi demo``: business hours and holidays, SLA
policies, a team, canned replies, knowledge-base articles in English and Chinese, and a few
tickets from simulated customers in every state (answered, waiting, solved and rated, late).

Idempotent: does nothing when articles already exist. Mail is not sent while seeding.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from guanxi.customers import selectors as customer_selectors
from guanxi.service import services
from guanxi.service.models import (
    BusinessCalendar,
    CannedReply,
    ChannelSettings,
    Holiday,
    KBArticle,
    KBCategory,
    SLAPolicy,
    Team,
    Ticket,
)

WEEKDAYS = {str(d): [["09:00", "18:00"]] for d in range(1, 6)}
HOLIDAYS_2026 = [
    (dt.date(2026, 1, 1), "元旦 New Year"),
    (dt.date(2026, 2, 17), "春节 Spring Festival"),
    (dt.date(2026, 2, 18), "春节 Spring Festival"),
    (dt.date(2026, 2, 19), "春节 Spring Festival"),
    (dt.date(2026, 5, 1), "劳动节 Labour Day"),
    *[(dt.date(2026, 10, d), "国庆节 National Day") for d in range(1, 8)],
]

CATEGORIES = [
    ("Orders and delivery", "订单与配送"),
    ("Returns and refunds", "退货与退款"),
    ("Account and payment", "账户与支付"),
]

ARTICLES = [
    (
        0,
        "en",
        "Shipping times and costs",
        "Orders ship within one business day. Standard delivery takes three to five days; express "
        "delivery arrives the next day. Shipping is free on orders over $50. Every parcel gets a "
        "tracking number by email.",
    ),
    (
        0,
        "en",
        "Changing the delivery address",
        "You can change the delivery address on the order page until the order ships. After that, "
        "contact us and we will ask the carrier to redirect the parcel.",
    ),
    (
        1,
        "en",
        "Returns and refunds",
        "You can return any item within 30 days of delivery. Start a return from your order page, "
        "pack the item in its original box and drop it at a post office. Refunds reach your card "
        "within five business days after we receive the parcel.",
    ),
    (
        1,
        "en",
        "My item arrived damaged",
        "Sorry! Take a photo of the damage and the box, open a request with the photos "
        "attached, and we will send a replacement or refund you at once. You do not need to "
        "send the item back.",
    ),
    (
        2,
        "en",
        "Resetting your password",
        "Click 'Forgot password' on the sign-in page and we will email you a link to choose a new "
        "one. The link expires after one hour.",
    ),
    (
        0,
        "zh-hans",
        "配送时间和运费说明",
        "我们使用顺丰快递发货，江浙沪地区一般次日送达，其他地区两到四天。订单满九十九元包邮，偏远地区需要"
        "另付运费。发货后您会收到快递单号，可以随时查询物流进度。",
    ),
    (
        1,
        "zh-hans",
        "如何申请退货和退款",
        "收到商品后七天内可以申请无理由退货。请在订单页面点击申请售后，填写退货原因并上传照片。仓库收到退回"
        "的商品后，退款会在三个工作日内原路返回到您的支付账户。",
    ),
    (
        1,
        "zh-hans",
        "收到的商品破损怎么办",
        "非常抱歉！请拍下商品和外包装的照片，提交工单并附上照片，我们会立即为您补发或退款，无需寄回商品。",
    ),
    (
        2,
        "zh-hans",
        "开具发票",
        "我们可以开具增值税普通发票和专用发票。请在下单时填写公司抬头和税号，电子发票会发送到您的邮箱。",
    ),
]

CANNED = [
    (
        "Thanks, looking into it",
        "en",
        "Hi {first_name},\n\nthank you for your message about “{subject}”. I am looking "
        "into it and will get back to you today.\n\n{agent_name}",
    ),
    (
        "Replacement on its way",
        "en",
        "Hi {first_name},\n\nwe are sorry about this. A replacement ships today; you will get the "
        "tracking number by email.\n\n{agent_name}",
    ),
    (
        "已为您处理",
        "zh-hans",
        "{customer_name}您好，\n\n关于“{subject}”的问题我们已经处理，如还有疑问请直接回复。\n\n{agent_name}",
    ),
]

TICKETS = [
    (
        "web",
        "Where is my parcel?",
        "I ordered last week and the tracking number shows nothing.",
        "answered",
    ),
    (
        "email",
        "Teapot arrived broken",
        "The lid was broken when I opened the box. Photo attached soon.",
        "solved",
    ),
    ("chat", "能开发票吗", "我需要公司抬头的增值税发票，税号已经填好了。", "pending"),
    (
        "phone",
        "Change delivery address",
        "Customer called: wants the parcel sent to her office instead.",
        "solved",
    ),
    ("web", "退货多久能退款", "我上周寄回了商品，退款什么时候到账？", "new"),
    ("email", "Wrong size delivered", "I ordered an M and got an S. Can you swap it?", "late"),
    ("fax", "Bulk order quote", "Fax from a reseller asking for a quote on 200 tea sets.", "new"),
    (
        "web",
        "Password reset email not arriving",
        "I clicked forgot password twice, nothing came.",
        "solved",
    ),
]


def seed_service_demo(stdout=None, *, seed: int = 7) -> bool:
    """Create the demo service data once; returns False when it was already there."""
    if KBArticle.objects.exists():
        return False
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
        transaction.atomic(),
    ):
        _seed(random.Random(seed))
    if stdout is not None:
        stdout.write(
            f"Service desk: {KBArticle.objects.count()} articles, {Ticket.objects.count()} "
            f"tickets, {SLAPolicy.objects.count()} SLA policies"
        )
    return True


def _seed(rng: random.Random) -> None:
    calendar = BusinessCalendar.objects.create(
        name="Shanghai office", time_zone="Asia/Shanghai", hours=WEEKDAYS
    )
    Holiday.objects.bulk_create(
        [Holiday(calendar=calendar, date=d, name=n) for d, n in HOLIDAYS_2026]
    )
    User = get_user_model()  # noqa: N806
    lead = User.objects.filter(is_superuser=True).order_by("id").first()
    agents = []
    for username, first, last in (("li.na", "Na", "Li"), ("sam.wu", "Sam", "Wu")):
        agent, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "is_staff": True},
        )
        if created:
            agent.set_unusable_password()  # the admin sets a password when needed
            agent.save()
            from django.contrib.auth.models import Group

            agent.groups.add(Group.objects.get(name="agent"))
        agents.append(agent)
    team = Team.objects.create(name="Customer care", lead=lead)
    team.members.set(agents)
    SLAPolicy.objects.create(
        name="VIP",
        tier="vip",
        first_response_minutes=60,
        resolution_minutes=8 * 60,
        calendar=calendar,
        escalate_to=team,
        position=1,
    )
    SLAPolicy.objects.create(
        name="Gold",
        tier="gold",
        first_response_minutes=120,
        resolution_minutes=16 * 60,
        calendar=calendar,
        escalate_to=team,
        position=2,
    )
    SLAPolicy.objects.create(
        name="Email, everyone else",
        channel="email",
        first_response_minutes=8 * 60,
        resolution_minutes=3 * 24 * 60,
        escalate_to=team,
        position=5,
    )
    SLAPolicy.objects.create(
        name="Standard",
        first_response_minutes=4 * 60,
        resolution_minutes=2 * 24 * 60,
        escalate_to=team,
        position=9,
    )
    ChannelSettings.objects.create(channel="phone", auto_reply=False, csat_survey=True)
    ChannelSettings.objects.create(channel="fax", auto_reply=False, csat_survey=False)
    for title, language, body in CANNED:
        CannedReply.objects.create(title=title, language=language, body=body)
    categories = [
        KBCategory.objects.create(name=name, name_zh=zh, position=i)
        for i, (name, zh) in enumerate(CATEGORIES)
    ]
    for cat, language, title, body in ARTICLES:
        services.save_article(
            title=title, body=body, language=language, category=categories[cat], published=True
        )
    services.save_article(
        title="Draft: gift wrapping",
        body="We are still deciding on the wrapping paper.",
        published=False,
    )

    customers = [
        c
        for c in customer_selectors.search_customers("", ordering="created")[:200]
        if customer_selectors.primary_email(c)
    ]
    if not customers:
        return
    now = timezone.now()
    picked = rng.sample(customers, min(len(TICKETS), len(customers)))
    for i, (customer, (channel, subject, body, state)) in enumerate(
        zip(picked, TICKETS, strict=False)
    ):
        agent = agents[i % len(agents)]
        opened = now - dt.timedelta(hours=rng.randint(2, 60) if state != "late" else 80)
        ticket = services.create_ticket(
            customer=customer,
            subject=subject,
            body=body,
            channel=channel,
            team=team,
            created_at=opened,
            actor=agent,
        )
        answered_at = opened + dt.timedelta(minutes=rng.randint(20, 200))
        if state in ("answered", "pending", "solved"):
            services.reply(
                ticket,
                author=agent,
                at=min(answered_at, now),
                body="Thank you, we are looking into it."
                if ticket.language == "en"
                else "您好，我们正在处理，请稍候。",
                status="open" if state == "answered" else None,
            )
        if state == "solved":
            services.set_status(
                ticket,
                Ticket.Status.SOLVED,
                actor=agent,
                at=min(answered_at + dt.timedelta(hours=2), now),
            )
            ticket.refresh_from_db()
            if rng.random() < 0.8:
                services.answer_survey(
                    ticket.survey.token,
                    score=rng.choice([5, 5, 4, 4, 3, 2]),
                    comment=rng.choice(["", "Quick answer, thanks!", "非常满意"]),
                )
        if state == "pending":
            services.reply(
                ticket, author=agent, internal=True, body="Asked for the company tax id; waiting."
            )
    services.check_sla(now)
