from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def home(request):
    """Public landing page of the customer portal (self-service pages arrive in later issues)."""
    return render(request, "portal/home.html")
