import pytest
from django.contrib.auth.models import Group, User

from guanxi.core.roles import ROLES


@pytest.fixture
def make_staff(db):
    """A staff user in one role (``admin``, ``marketer``, ``agent``, ``sales_rep``, ``analyst``)."""

    def _make(role: str, username: str | None = None, password: str = "pw-Secret-123") -> User:
        assert role in ROLES
        user = User.objects.create_user(
            username=username or f"{role}-user",
            password=password,
            is_staff=True,
            is_superuser=role == "admin",
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return _make


@pytest.fixture
def admin_user_client(client, make_staff):
    user = make_staff("admin")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture(autouse=True)
def _restore_language():
    """A request in Chinese leaves zh-hans active in this thread; later tests expect English."""
    from django.conf import settings
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)
