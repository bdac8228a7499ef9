"""Signals other apps (flows, outbound webhooks) connect to."""

from django.dispatch import Signal

# sender=Segment, segment=…, entered=[customer ids], left=[customer ids]; sent after a refresh
# that changed the membership (not on a segment's first refresh: everyone would "enter").
membership_changed = Signal()
