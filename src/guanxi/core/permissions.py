"""Page permissions: every console view declares the one Django permission it needs.

Roles are auth groups (see :mod:`guanxi.core.roles`); a page asks for a permission, never for a
role, so changing what a role may do is a one-line change in ``roles.py``.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

ViewFunc = Callable[..., HttpResponse]


def console_view(permission: str) -> Callable[[ViewFunc], ViewFunc]:
    """Guard a staff-console view.

    Anonymous visitors are sent to ``/console/login/?next=…``; signed-in users who are not
    staff, or lack ``permission`` (``"app_label.codename"``), get 403. The permission is kept on
    the view as ``console_permission`` so tests can check that every page declares one.
    """
    if "." not in permission:
        raise ValueError(
            f"console_view needs an 'app_label.codename' permission, not {permission!r}"
        )

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("console:login"))
            if not (user.is_active and user.is_staff and user.has_perm(permission)):
                raise PermissionDenied(permission)
            return view(request, *args, **kwargs)

        guarded.console_permission = permission
        return guarded

    return decorator


def has_console_access(user, permission: str) -> bool:
    """Whether ``user`` may open a console page that declares ``permission``."""
    return bool(
        user.is_authenticated and user.is_active and user.is_staff and user.has_perm(permission)
    )
