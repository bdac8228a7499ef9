"""Customer accounts of the portal, separate from staff accounts.

A portal account is a Django user that is never staff, tied to one customer profile; the staff
console refuses it and the portal refuses staff users.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PortalAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_account"
    )
    # Null until the email address is confirmed when a profile with that address already
    # existed (so signing up with someone else's address never reveals their tickets).
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="portal_accounts",
    )
    email = models.EmailField(_("email"))
    email_verified = models.BooleanField(_("email confirmed"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("portal account")
        verbose_name_plural = _("portal accounts")

    def __str__(self) -> str:
        return self.email
