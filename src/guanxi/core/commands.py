"""Base class for Guanxi's management commands."""

from django.core.management.base import BaseCommand


class GuanxiCommand(BaseCommand):
    """A command whose ``help`` texts may be lazily translated (argparse needs plain strings)."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.help = str(self.help)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:
            if action.help is not None and not isinstance(action.help, str):
                action.help = str(action.help)
        return parser
