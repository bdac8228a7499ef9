"""Signals other apps may connect to (e.g. outbound webhooks), sent after the transaction
commits: ``ticket_created`` and ``ticket_solved``, both with ``sender=Ticket, ticket=<Ticket>``."""

from django.dispatch import Signal

ticket_created = Signal()
ticket_solved = Signal()
