"""Every Guanxi command answers --help (in English and in Chinese)."""

import pytest
from django.core.management import get_commands, load_command_class
from django.utils import translation

GUANXI = sorted(name for name, app in get_commands().items() if app.startswith("guanxi."))


def test_guanxi_commands_are_found():
    assert {"import", "simulate", "demo", "worker", "create_api_token", "analytics"} <= set(GUANXI)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("name", GUANXI)
def test_help_renders(name, language):
    command = load_command_class(get_commands()[name], name)
    with translation.override(language):
        text = command.create_parser("guanxi", name).format_help()
    assert name in text and len(text) > 80
