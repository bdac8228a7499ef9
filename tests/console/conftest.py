import pytest
from django.conf import settings
from django.utils import translation


@pytest.fixture(autouse=True)
def _restore_language():
    """A request in Chinese leaves zh-hans active in this thread; later tests expect English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
