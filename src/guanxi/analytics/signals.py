"""Signals sent by analytics. ``run_finished(sender, run)``: a refresh succeeded and its
scores are in place (receivers: outbound webhooks for tier / lifecycle changes)."""

from django.dispatch import Signal

run_finished = Signal()
