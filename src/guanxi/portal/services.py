"""Portal accounts: sign-up, email confirmation, and which customer a signed-in user is.

A new address gets a new prospect profile at once. An address that already belongs to a
profile is linked only after the emailed confirmation link is opened, so nobody can read
someone else's tickets by signing up with their address.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.models import AuditEntry
from guanxi.customers import selectors as customer_selectors
from guanxi.customers import services as customer_services
from guanxi.portal.models import PortalAccount
from guanxi.service import mail
from guanxi.service.services import portal_url

VERIFY_SALT = "guanxi.portal.verify-email"


class SignupError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _username(email: str) -> str:
    return f"portal:{email.lower()}"[:150]


@transaction.atomic
def sign_up(*, email: str, password: str, first_name: str = "", last_name: str = ""):
    """Create a customer (portal) account; returns the PortalAccount."""
    email = (email or "").strip()
    if "@" not in email:
        raise SignupError("email", _("Enter a valid email address."))
    User = get_user_model()  # noqa: N806
    if User.objects.filter(username=_username(email)).exists():
        raise SignupError("email", _("An account with this email already exists. Sign in instead."))
    user = User.objects.create_user(
        username=_username(email),
        email=email,
        password=password,
        first_name=first_name[:150],
        last_name=last_name[:150],
        is_staff=False,
    )
    existing = customer_selectors.find_customer_by_contact("email", email)
    account = PortalAccount.objects.create(user=user, email=email)
    if existing is None:
        account.customer = customer_services.create_customer(
            channel=AuditEntry.Channel.SYSTEM,
            emails=[email],
            first_name=first_name[:150],
            last_name=last_name[:150],
            attributes={"origin": "portal sign-up"},
        )
        account.save(update_fields=["customer"])
    else:
        send_verification(account)
    return account


def send_verification(account: PortalAccount) -> None:
    token = signing.dumps({"a": account.pk, "e": account.email.lower()}, salt=VERIFY_SALT)
    url = portal_url(f"/account/confirm/{token}/")
    body = _("Open this link to confirm your email address and see your requests: %(url)s") % {
        "url": url
    }
    mid = mail.make_message_id(0, "verify")
    to = account.email
    transaction.on_commit(
        lambda: mail.send_email(
            to=[to], subject=_("Confirm your email address"), body=body, message_id=mid
        )
    )


@transaction.atomic
def confirm_email(token: str) -> PortalAccount | None:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=60 * 60 * 24 * 7)
    except signing.BadSignature:
        return None
    account = PortalAccount.objects.filter(pk=data.get("a")).first()
    if account is None or account.email.lower() != data.get("e"):
        return None
    account.email_verified = True
    if account.customer_id is None:
        account.customer = customer_selectors.find_customer_by_contact("email", account.email)
    account.save(update_fields=["email_verified", "customer"])
    return account


def portal_account(user) -> PortalAccount | None:
    """The user's portal account, or None (anonymous, staff, or no account)."""
    if not user.is_authenticated or user.is_staff or user.is_superuser:
        return None
    return PortalAccount.objects.select_related("customer").filter(user=user).first()
