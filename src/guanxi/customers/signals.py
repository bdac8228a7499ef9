"""Signals sent by the customers app. ``customers_merged(sender, merge)`` after a merge."""

from django.dispatch import Signal

customers_merged = Signal()
