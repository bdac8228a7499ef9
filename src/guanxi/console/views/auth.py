"""Sign-in and sign-out of the staff console (Django's auth views, console templates)."""

from django.contrib.auth import views as auth_views

from guanxi.console.forms import StaffAuthenticationForm


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True


class ConsoleLogoutView(auth_views.LogoutView):
    """POST-only (Django 5); the user menu's sign-out button posts here."""
