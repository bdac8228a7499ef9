"""The portal tests reuse the service desk's SMTP sink."""

from tests.service.conftest import smtp  # noqa: F401
