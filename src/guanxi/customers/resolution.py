"""Identity resolution over the stored profiles: find, score, auto-merge or queue for review."""

from __future__ import annotations

import dataclasses
import logging
import time

import pandas as pd
from django.db import transaction
from django.db.models import OuterRef, Subquery

from guanxi.customers import identity
from guanxi.customers.merging import MergeError, merge_customers
from guanxi.customers.models import Address, ContactPoint, Customer, MatchCandidate

log = logging.getLogger("guanxi.identity")


@dataclasses.dataclass
class ResolutionResult:
    profiles: int = 0
    pairs: int = 0
    auto_merged: int = 0
    queued: int = 0
    skipped: int = 0
    seconds: float = 0.0


def profile_frame() -> pd.DataFrame:
    """Every live profile (not merged, not archived) with its match fields."""
    email = ContactPoint.objects.filter(
        customer=OuterRef("pk"), kind=ContactPoint.Kind.EMAIL
    ).order_by("-is_primary", "id")
    phone = ContactPoint.objects.filter(
        customer=OuterRef("pk"),
        kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.MOBILE],
    ).order_by("-is_primary", "id")
    address = Address.objects.filter(customer=OuterRef("pk")).order_by("-is_default", "id")
    rows = Customer.objects.filter(merged_into__isnull=True, archived_at__isnull=True).annotate(
        email=Subquery(email.values("normalized")[:1]),
        phone=Subquery(phone.values("normalized")[:1]),
        street=Subquery(address.values("line1")[:1]),
        city=Subquery(address.values("city")[:1]),
        postcode=Subquery(address.values("postcode")[:1]),
        state=Subquery(address.values("region")[:1]),
    )
    frame = pd.DataFrame.from_records(
        list(
            rows.values(
                "id",
                "first_name",
                "last_name",
                "birthday",
                "email",
                "phone",
                "street",
                "city",
                "postcode",
                "state",
            )
        ),
        columns=["id", *identity.PROFILE_MATCH_FIELDS],
    )
    return frame


def find_candidates(threshold: float = identity.REVIEW_THRESHOLD) -> tuple[pd.DataFrame, int]:
    frame = profile_frame()
    if len(frame) < 2:
        return pd.DataFrame(columns=["id_l", "id_r", "match_probability"]), len(frame)
    fields = [f for f in identity.PROFILE_MATCH_FIELDS if frame[f].notna().any()]
    result = identity.link_frames([frame], id_column="id", fields=fields, threshold=threshold)
    return result.pairs, len(frame)


def resolve_identities(
    *,
    auto_threshold: float = identity.AUTO_MERGE_THRESHOLD,
    review_threshold: float = identity.REVIEW_THRESHOLD,
    auto_merge: bool = True,
) -> ResolutionResult:
    """Score candidate duplicates among live profiles; merge those at or above
    ``auto_threshold`` (older profile kept), queue those in between for review."""
    started = time.perf_counter()
    pairs, profiles = find_candidates(review_threshold)
    result = ResolutionResult(profiles=profiles, pairs=len(pairs))
    decided = {
        (a, b): status
        for a, b, status in MatchCandidate.objects.values_list(
            "customer_a_id", "customer_b_id", "status"
        )
    }
    for row in pairs.itertuples(index=False):
        a, b = sorted((int(row.id_l), int(row.id_r)))
        p = float(row.match_probability)
        status = decided.get((a, b))
        if status in (MatchCandidate.Status.KEPT_APART, MatchCandidate.Status.MERGED):
            result.skipped += 1
            continue
        with transaction.atomic():
            candidate, _ = MatchCandidate.objects.update_or_create(
                customer_a_id=a, customer_b_id=b, defaults={"probability": p}
            )
            if auto_merge and p >= auto_threshold:
                try:
                    merge_customers(a, b, candidate=candidate, probability=p, automatic=True)
                    result.auto_merged += 1
                    continue
                except MergeError as exc:  # one side merged already in this run: review it
                    log.info("auto-merge %s/%s left for review: %s", a, b, exc)
            result.queued += 1
    result.seconds = time.perf_counter() - started
    return result
