"""A deterministic, vectorised store simulator with planted ground truth.

``generate_store(customers, seed=…, months=…)`` returns a :class:`SimulatedStore`: Arrow tables
(categories, products, customers, order lines in Guanxi's canonical layout, events) plus a
JSON-serialisable ``truth`` that later analytics are measured against: churners, periodic
buyers, product chains, duplicate identities, a fake-review ring plan and the measured Pareto
share of revenue.

Everything is drawn from one ``numpy.random.default_rng(seed)`` (Faker, seeded from the same
seed, only fills small name/street/city pools), so the same arguments give identical tables.
Nothing here touches the database; :mod:`guanxi.simulate.services` loads a store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guanxi.simulate import catalogue as cat

MAIN_SOURCE = "webshop"
DUPLICATE_SOURCE = "marketplace"
# Order ids say where the order was placed: "WS-…" on the webshop, "MP-…" on the marketplace;
# a return is "R-<original order id>".
ORDER_PREFIX = {MAIN_SOURCE: "WS-", DUPLICATE_SOURCE: "MP-"}
RETURN_PREFIX = "R-"
DEFAULT_END = dt.date(2026, 10, 31)
CURRENCY = "USD"
TOP_FRACTION = 0.2
TIMESTAMP = pa.timestamp("us", tz="UTC")

ORDER_LINE_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("placed_at", TIMESTAMP),
        ("customer_id", pa.string()),
        ("sku", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", pa.float64()),
        ("currency", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("country", pa.string()),
        ("email", pa.string()),
    ]
)

# Countries: (code, name locale, time zones, language, share of customers).
_COUNTRIES = (
    (
        "US",
        "en_US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        "en",
        0.50,
    ),
    ("CN", "zh_CN", ("Asia/Shanghai",), "zh-hans", 0.36),
    ("GB", "en_US", ("Europe/London",), "en", 0.04),
    ("CA", "en_US", ("America/Toronto", "America/Vancouver"), "en", 0.04),
    ("AU", "en_US", ("Australia/Sydney",), "en", 0.03),
    ("SG", "zh_CN", ("Asia/Singapore",), "en", 0.03),
)
_OTHER_CITIES = {
    "GB": ("London", "Manchester", "Bristol", "Leeds", "Edinburgh"),
    "CA": ("Toronto", "Vancouver", "Montreal", "Calgary"),
    "AU": ("Sydney", "Melbourne", "Brisbane", "Perth"),
    "SG": ("Singapore",),
}
_PHONE_FORMAT = {"US": "+1", "CA": "+1", "CN": "+86", "GB": "+44", "AU": "+61", "SG": "+65"}
_EMAIL_DOMAINS = {
    "en_US": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"),
    "zh_CN": ("qq.com", "163.com", "126.com", "gmail.com", "sina.com"),
}
_DOMAIN_TYPOS = {
    "gmail.com": "gmial.com",
    "yahoo.com": "yaho.com",
    "outlook.com": "outlok.com",
    "hotmail.com": "hotmial.com",
    "icloud.com": "icloud.co",
    "qq.com": "qq.con",
    "163.com": "136.com",
    "126.com": "162.com",
    "sina.com": "sian.com",
}
_CUSTOMER_TYPES = ("individual", "reseller", "manufacturer")
_CUSTOMER_TYPE_SHARE = (0.90, 0.07, 0.03)
_ZH_QUERIES = ("奶瓶", "笔记本电脑", "相机", "面膜", "茶叶", "礼盒", "咖啡胶囊", "滤芯", "家庭影院")
_VIEW_PROPERTIES = (
    '{"source": "search"}',
    '{"source": "category"}',
    '{"source": "recommendation"}',
    '{"source": "home"}',
    '{"source": "email"}',
)
_MONTH_FACTOR = np.array([0.85, 0.8, 0.9, 0.9, 1.0, 1.05, 0.95, 0.95, 1.0, 1.0, 1.7, 1.8])


@dataclasses.dataclass(frozen=True)
class SimulatedStore:
    """The simulated store: Arrow tables plus the planted ground truth (JSON-serialisable)."""

    categories: pa.Table
    products: pa.Table
    customers: pa.Table
    order_lines: pa.Table
    events: pa.Table
    truth: dict[str, Any]

    def tables(self) -> dict[str, pa.Table]:
        """Name → table, in the order they should be loaded."""
        return {
            "categories": self.categories,
            "products": self.products,
            "customers": self.customers,
            "order_lines": self.order_lines,
            "events": self.events,
        }

    def customers_for(self, source: str) -> pa.Table:
        """The customer rows registered on ``source`` (``webshop`` or ``marketplace``)."""
        return self.customers.filter(pc.equal(self.customers["source"], source))

    def order_lines_for(self, source: str) -> pa.Table:
        """The order lines placed on ``source`` (their order ids carry the source's prefix)."""
        return self.order_lines.filter(order_source_mask(self.order_lines, source))


def order_source_mask(lines: pa.Table, source: str) -> pa.ChunkedArray:
    """Which lines of ``lines`` were placed on ``source`` (told by the order id's prefix)."""
    prefix = ORDER_PREFIX[source]
    return pc.match_substring_regex(lines["order_id"], f"^({RETURN_PREFIX})?{prefix}")


def revenue_share_of_top(lines: pa.Table, fraction: float = TOP_FRACTION) -> float:
    """Share of net revenue (orders minus returns) brought by the top ``fraction`` of buying
    customers, customers being the ``customer_id`` values of ``lines`` (guests left out)."""
    return _top_share(customer_revenue(lines), fraction)


def customer_revenue(lines: pa.Table) -> np.ndarray:
    """Net revenue of each customer id of ``lines`` (guests left out), in no special order."""
    lines = lines.filter(pc.is_valid(lines["customer_id"]))
    if lines.num_rows == 0:
        return np.zeros(0)
    revenue = pc.multiply(pc.cast(lines["quantity"], pa.float64()), lines["unit_price"])
    return (
        pa.table({"c": lines["customer_id"], "r": revenue})
        .group_by("c")
        .aggregate([("r", "sum")])
        .column("r_sum")
        .to_numpy()
    )


def _top_share(per: np.ndarray, fraction: float) -> float:
    if len(per) == 0:
        return 0.0
    per = np.sort(per)[::-1]
    top = max(1, int(np.ceil(len(per) * fraction)))
    total = per.sum()
    return float(per[:top].sum() / total) if total > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class _Offsets:
    """Where a part's numbering starts: how many customers, marketplace twins, orders, guests,
    anonymous visitors and events the parts before it made (all zero for a whole store)."""

    customers: int = 0
    duplicates: int = 0
    orders: int = 0
    guests: int = 0
    visitors: int = 0
    events: int = 0

    def __add__(self, other: _Offsets) -> _Offsets:
        return _Offsets(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )


def _width(minimum: int, last: int) -> int:
    """Digits of zero-padded numbers up to ``last``, at least ``minimum``."""
    return max(minimum, len(str(last)))


# --- Helpers ----------------------------------------------------------------------------------


def _seq_ids(prefix: str, n: int, width: int, first: int = 1) -> pa.Array:
    """``prefix`` + zero-padded first..first+n-1 as an Arrow string array, without a Python
    loop (one digit column at a time)."""
    head = prefix.encode()
    row = len(head) + width
    buf = np.empty((n, row), dtype=np.uint8)
    for j, byte in enumerate(head):
        buf[:, j] = byte
    values = np.arange(first, first + n, dtype=np.int64)
    for k in range(width):
        buf[:, row - 1 - k] = 48 + values // 10**k % 10
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )
    return array.cast(pa.string())


def _take(values: pa.Array, index: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """``values[index]`` with nulls where ``missing`` (or index < 0)."""
    if missing is None:
        missing = index < 0
    safe = np.where(missing, 0, index).astype(np.int32)
    indices = pa.array(safe, mask=missing if missing.any() else None)
    # Decoding a dictionary is several times faster than ``take`` on string arrays.
    return pa.DictionaryArray.from_arrays(indices, values).cast(values.type)


def _to_us(start_us: int, days: np.ndarray) -> pa.Array:
    seconds = np.floor(days * 86400.0).astype(np.int64)
    return pa.array(start_us + seconds * 1_000_000, TIMESTAMP)


class _Clock:
    """The simulated window ``[start, end]`` in days (floats), weighted by seasonality."""

    def __init__(self, end: dt.date, months: int):
        after = end + dt.timedelta(days=1)
        month0 = after.year * 12 + after.month - 1 - months
        self.start = dt.date(month0 // 12, month0 % 12 + 1, min(after.day, 28))
        self.end = end
        self.days = (after - self.start).days
        self.start_us = int(
            dt.datetime.combine(self.start, dt.time(), dt.UTC).timestamp() * 1_000_000
        )
        dates = np.datetime64(self.start, "D") + np.arange(self.days)
        month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
        weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
        w = _MONTH_FACTOR[month - 1] * np.where(weekday >= 5, 1.12, 1.0)
        double11 = (month == 11) & (day == 11)
        w[double11] *= 5.0
        w[(month == 11) & (day < 11)] *= 1.25  # pre-sale
        black_friday = (month == 11) & (weekday == 4) & (day >= 22) & (day <= 28)
        cyber_monday = np.zeros_like(black_friday)
        cyber_monday[3:] = black_friday[:-3]
        w[black_friday] *= 3.0
        w[cyber_monday] *= 2.0
        w[(month == 6) & (day == 18)] *= 2.5  # "618"
        w[(month == 12) & (day >= 15) & (day <= 22)] *= 1.3
        w[(month == 12) & (day == 25)] *= 0.5
        self.sale = double11 | black_friday | cyber_monday | ((month == 6) & (day == 18))
        self.weights = w / w.mean()
        self.cum = np.concatenate([[0.0], np.cumsum(self.weights)])

    def day(self, when: dt.date) -> float:
        return float((when - self.start).days)

    def mass(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Seasonal weight between day ``a`` and day ``b`` (in 'average days')."""
        return np.maximum(self._cw(b) - self._cw(a), 0.0)

    def _cw(self, t: np.ndarray) -> np.ndarray:
        t = np.clip(t, 0.0, float(self.days))
        d = np.minimum(np.floor(t).astype(np.int64), self.days - 1)
        return self.cum[d] + self.weights[d] * (t - d)

    def sample(self, a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Times in ``[a, b]`` drawn with the seasonal weights (``u`` uniform in [0, 1))."""
        lo, hi = self._cw(a), self._cw(b)
        y = lo + u * (hi - lo)
        d = np.clip(np.searchsorted(self.cum, y, side="right") - 1, 0, self.days - 1)
        t = d + (y - self.cum[d]) / self.weights[d]
        return np.clip(t, a, np.nextafter(b, -np.inf))

    def is_sale(self, t: np.ndarray) -> np.ndarray:
        return self.sale[np.clip(t.astype(np.int64), 0, self.days - 1)]


@functools.lru_cache(maxsize=4)
def _pools(seed: int) -> dict[str, dict[str, tuple[str, ...]]]:
    """Small pools of names, streets, cities, jobs and companies per locale (Faker, seeded)."""
    from faker import Faker

    pools: dict[str, dict[str, tuple[str, ...]]] = {}
    for offset, locale in enumerate(("en_US", "zh_CN")):
        fake = Faker(locale)
        fake.seed_instance(seed * 7919 + offset)

        def draw(fn, n: int) -> tuple[str, ...]:
            return tuple(fn() for _ in range(n))

        pools[locale] = {
            "female": draw(fake.first_name_female, 160),
            "male": draw(fake.first_name_male, 160),
            "last": draw(fake.last_name, 160),
            "city": draw(fake.city, 120),
            "street": draw(fake.street_address, 400),
            "postcode": draw(fake.postcode, 200),
            "region": draw(fake.province if locale == "zh_CN" else fake.state_abbr, 60),
            "job": draw(fake.job, 120),
            "company": draw(fake.company, 200),
        }
        if locale == "zh_CN":
            pools[locale]["rom_first"] = draw(fake.first_romanized_name, 120)
            pools[locale]["rom_last"] = draw(fake.last_romanized_name, 80)
    return pools


# --- Catalogue --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Catalogue:
    sku: np.ndarray
    name: np.ndarray
    noun: np.ndarray
    sub: np.ndarray  # subcategory index
    top: np.ndarray  # top category index
    price: np.ndarray
    weight: np.ndarray  # popularity inside the top category
    sub_names: list[str]
    categories: pa.Table
    products: pa.Table
    by_top: list[np.ndarray] = dataclasses.field(default_factory=list)
    cum_by_top: list[np.ndarray] = dataclasses.field(default_factory=list)
    index: dict[str, int] = dataclasses.field(default_factory=dict)
    planted: set[int] = dataclasses.field(default_factory=set)
    brand: np.ndarray | None = None  # index into cat.BRANDS (-1: a planted product)
    price_position: np.ndarray | None = None  # 0 = cheapest of its subcategory … 1 = dearest
    # Cumulative popularity per (taste cluster + 1, top category), see ``_Taste``; row 0 is the
    # store-wide popularity of ``cum_by_top``.
    cum_by_taste: list[list[np.ndarray]] = dataclasses.field(default_factory=list)

    def pick(
        self, rng: np.random.Generator, top: np.ndarray, taste: np.ndarray | None = None
    ) -> np.ndarray:
        """A product of each given top category, drawn by popularity, or by the popularity
        among the customers of the given taste cluster (``taste`` ≥ 0; -1 = store-wide)."""
        # One search over the categories' cumulative popularity laid end to end (k + cum_k).
        tables = self.cum_by_taste or [self.cum_by_top]
        tops = len(self.by_top)
        stacked = np.concatenate(
            [tops * g + k + c for g, row in enumerate(tables) for k, c in enumerate(row)]
        )
        members = np.tile(np.concatenate(self.by_top), len(tables))
        row = 0 if taste is None else np.where(taste >= 0, taste + 1, 0)
        hit = np.searchsorted(stacked, row * tops + top + rng.random(len(top)), side="right")
        return members[np.minimum(hit, len(members) - 1)]


def _build_catalogue(rng: np.random.Generator, customers: int) -> _Catalogue:
    subs = [(t, s) for t in cat.CATALOGUE for s in t.subcategories]
    sub_index = {s.code: i for i, (_, s) in enumerate(subs)}
    top_index = {t.code: i for i, t in enumerate(cat.CATALOGUE)}
    target = int(np.clip(customers // 40, 300, 2000)) - len(cat.PLANTED_PRODUCTS)
    nouns_total = sum(len(s.nouns) for _, s in subs)

    skus, names, nouns, sub_of, prices, brands = [], [], [], [], [], []
    for i, (_, s) in enumerate(subs):
        n = max(3, round(target * len(s.nouns) / nouns_total))
        noun = rng.integers(0, len(s.nouns), n)
        brand = rng.integers(0, len(cat.BRANDS), n)
        variant = rng.integers(0, len(cat.VARIANTS), n)
        colour = rng.integers(0, len(cat.COLOURS), n)
        low, high = s.price
        price = np.exp(rng.uniform(np.log(low), np.log(high), n))
        price = np.round(np.floor(price) + rng.choice([0.0, 0.49, 0.9, 0.99], n), 2)
        for j in range(n):
            parts = (
                cat.BRANDS[brand[j]],
                cat.VARIANTS[variant[j]],
                s.nouns[noun[j]],
                cat.COLOURS[colour[j]],
            )
            names.append(" ".join(p for p in parts if p))
            nouns.append(s.nouns[noun[j]])
            skus.append(f"{s.code}-{j + 1:04d}")
            sub_of.append(i)
        prices.extend(price.tolist())
        brands.extend(brand.tolist())
    for p in cat.PLANTED_PRODUCTS:
        skus.append(p.sku)
        names.append(p.name)
        nouns.append(p.name)
        sub_of.append(sub_index[p.subcategory])
        prices.append(p.price)
        brands.append(-1)

    sub = np.array(sub_of, dtype=np.int64)
    top = np.array([top_index[subs[i][0].code] for i in sub_of], dtype=np.int64)
    # Where each product's price sits in its subcategory (0 = cheapest, 1 = dearest).
    price_array = np.array(prices)
    position = np.zeros(len(skus))
    for i in range(len(subs)):
        members = np.flatnonzero(sub == i)
        if len(members) > 1:
            ranks = np.argsort(np.argsort(price_array[members], kind="stable"), kind="stable")
            position[members] = ranks / (len(members) - 1)
        elif len(members):
            position[members] = 0.5
    index = {s: i for i, s in enumerate(skus)}
    planted = {index[p.sku] for p in cat.PLANTED_PRODUCTS}

    # Popularity: Zipf over a rank inside the top category; planted products get their rank.
    weight = np.zeros(len(skus))
    by_top, cum_by_top = [], []
    for k in range(len(cat.CATALOGUE)):
        members = np.flatnonzero(top == k)
        fixed = {index[p.sku]: p.rank for p in cat.PLANTED_PRODUCTS if index[p.sku] in members}
        fixed_ranks = set(fixed.values())
        free_ranks = [r for r in range(len(members)) if r not in fixed_ranks]
        free = [m for m in members if m not in fixed]
        order = rng.permutation(len(free))
        for m, r in fixed.items():
            weight[m] = 1.0 / (r + 1) ** 0.9
        for pos, m in zip(order, free, strict=True):
            weight[m] = 1.0 / (free_ranks[pos] + 1) ** 0.9
        cum = np.cumsum(weight[members])
        cum /= cum[-1]
        cum[-1] = 1.0 + 1e-12
        by_top.append(members)
        cum_by_top.append(cum)

    categories = pa.table(
        {
            "external_id": [t.code for t in cat.CATALOGUE] + [s.code for _, s in subs],
            "name": [t.name for t in cat.CATALOGUE] + [s.name for _, s in subs],
            "parent_external_id": pa.array(
                [None] * len(cat.CATALOGUE) + [t.code for t, _ in subs], pa.string()
            ),
        }
    )
    in_stock = rng.random(len(skus)) > 0.04
    in_stock[list(planted)] = True
    products = pa.table(
        {
            "external_id": skus,  # the SKU is the product's id on the store
            "sku": skus,
            "name": names,
            "category_external_id": [subs[i][1].code for i in sub_of],
            "price": pa.array(prices, pa.float64()),
            "currency": [CURRENCY] * len(skus),
            "in_stock": pa.array(in_stock),
        }
    )
    return _Catalogue(
        sku=np.array(skus, dtype=object),
        name=np.array(names, dtype=object),
        noun=np.array(nouns, dtype=object),
        sub=sub,
        top=top,
        price=np.array(prices),
        weight=weight,
        sub_names=[s.name for _, s in subs],
        categories=categories,
        products=products,
        by_top=by_top,
        cum_by_top=cum_by_top,
        index=index,
        planted=planted,
        brand=np.array(brands, dtype=np.int64),
        price_position=position,
    )


# --- Taste ------------------------------------------------------------------------------------

# Inside the categories a persona buys from, customers are not alike: a bargain hunter and a
# premium buyer, each faithful to a few brands, each more into some subcategories than others.
# Every persona has TASTE_CLUSTERS_PER_PERSONA taste clusters; a cluster is
#
# * a price position (0 = the cheapest of a subcategory … 1 = the dearest): a product's appeal
#   falls off as a bell curve (σ = PRICE_WIDTH) with its distance from it;
# * a preference over the subcategories of each category (Dirichlet(1) weights: one cluster of
#   parents buys toys and clothes, another nursery furniture);
# * a repertoire of FAVOURITE_BRANDS brands: BRAND_LOYALTY of the picks come from it (polygamous
#   brand loyalty: most buyers spread their purchases over a small repertoire of brands, and
#   the repertoire takes a large share of them — Ehrenberg's repeat-buying studies).
#
# Each customer belongs to one of their persona's clusters, and every pick is drawn by
# store-wide popularity × the cluster's appeal. Planted products (chains, refills, gifts, the
# review ring's targets) keep their store-wide probability in every cluster, so they come out
# as often as without taste.
TASTE_CLUSTERS_PER_PERSONA = 4
FAVOURITE_BRANDS = 3
BRAND_LOYALTY = 0.5
PRICE_WIDTH = 0.2


@dataclasses.dataclass
class _Taste:
    cluster: np.ndarray  # per webshop customer: their taste cluster
    clusters: list[dict[str, Any]]  # each cluster, for the truth


def _build_taste(rng: np.random.Generator, catalogue: _Catalogue, persona: np.ndarray) -> _Taste:
    """Taste clusters, each customer's cluster, and the clusters' product probabilities
    (``catalogue.cum_by_taste``)."""
    n_clusters = len(cat.PERSONAS) * TASTE_CLUSTERS_PER_PERSONA
    planted = np.zeros(len(catalogue.sku), dtype=bool)
    planted[list(catalogue.planted)] = True
    tables = [list(catalogue.cum_by_top)]
    clusters = []
    for k in range(n_clusters):
        position = float(rng.uniform(0.05, 0.95))
        brands = rng.choice(len(cat.BRANDS), FAVOURITE_BRANDS, replace=False)
        focus = np.ones(int(catalogue.sub.max()) + 1)
        for members in catalogue.by_top:
            in_top = np.unique(catalogue.sub[members])
            focus[in_top] = rng.dirichlet(np.ones(len(in_top))) * len(in_top)
        appeal = (
            np.exp(-0.5 * ((catalogue.price_position - position) / PRICE_WIDTH) ** 2)
            * focus[catalogue.sub]
        )
        favourite = np.isin(catalogue.brand, brands)
        row = []
        for members in catalogue.by_top:
            base = catalogue.weight[members] / catalogue.weight[members].sum()
            free = ~planted[members]
            liked = base * appeal[members] * free
            loyal = liked * favourite[members]
            if loyal.sum() > 0 and liked.sum() > 0:
                liked = BRAND_LOYALTY * loyal / loyal.sum() + (1 - BRAND_LOYALTY) * (
                    liked / liked.sum()
                )
            elif liked.sum() > 0:
                liked = liked / liked.sum()
            # Planted products keep their store-wide share; the others share the rest.
            mixed = np.where(free, liked * base[free].sum(), base)
            cum = np.cumsum(mixed)
            cum /= cum[-1]
            cum[-1] = 1.0 + 1e-12
            row.append(cum)
        tables.append(row)
        clusters.append(
            {
                "cluster": k,
                "persona": cat.PERSONAS[k // TASTE_CLUSTERS_PER_PERSONA][0],
                "price_position": round(position, 3),
                "brands": [cat.BRANDS[b] for b in sorted(brands)],
            }
        )
    catalogue.cum_by_taste = tables
    cluster = persona * TASTE_CLUSTERS_PER_PERSONA + rng.integers(
        0, TASTE_CLUSTERS_PER_PERSONA, len(persona)
    )
    for c in clusters:
        c["customers"] = int((cluster == c["cluster"]).sum())
    return _Taste(cluster=cluster, clusters=clusters)


# --- Customers --------------------------------------------------------------------------------


@dataclasses.dataclass
class _People:
    """Per-customer arrays for the ``n`` webshop customers (index = position)."""

    n: int
    persona: np.ndarray
    ctype: np.ndarray  # index into _CUSTOMER_TYPES
    country: np.ndarray  # index into _COUNTRIES
    rate: np.ndarray  # orders per month while active
    basket: np.ndarray  # mean extra lines per order
    signup: np.ndarray  # day (may be negative: before the window)
    churn: np.ndarray  # day the customer stops buying (inf: never)
    rows: dict[str, list]  # column → values, for the customers table
    taste: np.ndarray | None = None  # taste cluster (see ``_Taste``)


def _pick_top(rng: np.random.Generator, persona: np.ndarray) -> np.ndarray:
    """A top category for each persona, drawn with the persona's weights."""
    w = np.array([p[2] for p in cat.PERSONAS], dtype=float)
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0 + 1e-12
    stacked = (np.arange(len(w))[:, None] + cum).ravel()
    hit = np.searchsorted(stacked, persona + rng.random(len(persona)), side="right")
    return hit - persona * w.shape[1]


def _build_people(
    rng: np.random.Generator, seed: int, n: int, clock: _Clock, earlier: int = 0
) -> _People:
    """``n`` customers; ``earlier`` customers were made before them (by earlier parts)."""
    pools = _pools(seed)
    share = np.array([p[1] for p in cat.PERSONAS])
    persona = rng.choice(len(cat.PERSONAS), n, p=share / share.sum())
    ctype = rng.choice(3, n, p=_CUSTOMER_TYPE_SHARE)
    business = ctype > 0
    cshare = np.array([c[4] for c in _COUNTRIES])
    country = rng.choice(len(_COUNTRIES), n, p=cshare / cshare.sum())

    # Heterogeneous buying: a gamma-distributed order rate and basket size per customer is
    # what makes ~20% of customers bring ~80% of revenue.
    rate = rng.gamma(0.5, 0.84, n) * np.where(business, 1.6, 1.0)
    basket = rng.gamma(1.6, 0.55, n)

    # 35% were customers before the window; the rest sign up at a growing pace.
    before = rng.random(n) < 0.35
    signup = np.where(
        before,
        -rng.uniform(0, 3 * 365, n),
        clock.days * np.sqrt(rng.random(n)) * 0.995,
    )

    gender_idx = np.where(
        business, 3, rng.choice(4, n, p=[0.52, 0.44, 0.01, 0.03])
    )  # female, male, other, unknown
    genders = np.array(["female", "male", "other", ""], dtype=object)[gender_idx]
    locale = np.array([_COUNTRIES[c][1] for c in country], dtype=object)
    is_zh = locale == "zh_CN"
    pick = rng.integers(0, 1 << 30, (n, 12))
    en, zh = pools["en_US"], pools["zh_CN"]

    def choose(name: str, column: int) -> np.ndarray:
        """A value from the person's locale pool (``pick[:, column]`` says which)."""
        latin, chinese = (np.array(p[name], dtype=object) for p in (en, zh))
        index = pick[:, column]
        return np.where(is_zh, chinese[index % len(chinese)], latin[index % len(latin)])

    female = (gender_idx == 0) | ((gender_idx >= 2) & (pick[:, 0] % 2 == 1))
    first = np.where(female, choose("female", 1), choose("male", 1))
    last = choose("last", 2)
    rom_last, rom_first = (np.array(zh[k], dtype=object) for k in ("rom_last", "rom_first"))
    romanized = rom_last[pick[:, 3] % len(rom_last)] + rom_first[pick[:, 4] % len(rom_first)]
    local = np.where(is_zh, romanized, first + "." + last)
    local = [x.lower().replace("'", "").replace(" ", "") for x in local]
    domain_pool = {k: np.array(v, dtype=object) for k, v in _EMAIL_DOMAINS.items()}
    domain = np.where(
        is_zh,
        domain_pool["zh_CN"][pick[:, 6] % len(domain_pool["zh_CN"])],
        domain_pool["en_US"][pick[:, 6] % len(domain_pool["en_US"])],
    )
    email = [
        f"purchasing{i}@{x.split('.')[0]}-trade.com" if b else f"{x}{i}@{d}"
        for i, (x, d, b) in enumerate(zip(local, domain, business, strict=True), start=earlier + 1)
    ]
    codes = np.array([c[0] for c in _COUNTRIES], dtype=object)[country]
    # A bijection of the index keeps every phone number distinct.
    number = (np.arange(earlier, earlier + n, dtype=np.int64) * 7_368_787 + 1_234_567) % 100_000_000
    phone = [
        _format_phone(c, int(x), int(salt))
        for c, x, salt in zip(codes, number, pick[:, 7], strict=True)
    ]
    city = choose("city", 8)
    for code, cities in _OTHER_CITIES.items():
        mask = codes == code
        city[mask] = np.array(cities, dtype=object)[pick[mask, 8] % len(cities)]
    zones = np.empty(n, dtype=object)
    language = np.empty(n, dtype=object)
    for k, (_, _, tz, lang, _) in enumerate(_COUNTRIES):
        mask = country == k
        zones[mask] = np.array(tz, dtype=object)[pick[mask, 4] % len(tz)]
        language[mask] = lang
    occupation = choose("job", 3)
    occupation[rng.random(n) < 0.3] = None
    rows: dict[str, Any] = {
        "first_name": first.tolist(),
        "last_name": last.tolist(),
        "company_name": np.where(business, choose("company", 5), "").tolist(),
        "email": email,
        "phone": phone,
        "city": city.tolist(),
        "region": np.where(np.isin(codes, ("US", "CN")), choose("region", 9), "").tolist(),
        "street": choose("street", 10).tolist(),
        "postcode": choose("postcode", 11).tolist(),
        "occupation": occupation.tolist(),
        "time_zone": zones.tolist(),
        "language": language.tolist(),
        "country": codes.tolist(),
    }

    # Birthdays: adults 18-78 at the end of the window; 20% of people leave it out.
    age_days = rng.uniform(18 * 365.25, 78 * 365.25, n)
    birthday = np.datetime64(clock.end, "D") - age_days.astype(np.int64)
    no_birthday = business | (rng.random(n) < 0.2)
    rows["gender"] = list(genders)
    rows["kind"] = ["account" if b else "person" for b in business]
    rows["customer_type"] = [_CUSTOMER_TYPES[c] for c in ctype]
    rows["birthday"] = pa.array(birthday, pa.date32(), mask=no_birthday)
    rows["consent_email_marketing"] = (rng.random(n) < 0.62).tolist()
    rows["interests"] = _interests(rng, persona)

    # Customer numbers follow sign-up order.
    order = np.argsort(signup, kind="stable")
    persona, ctype, country = persona[order], ctype[order], country[order]
    rate, basket, signup = rate[order], basket[order], signup[order]
    for key, values in rows.items():
        rows[key] = [values[i] for i in order] if isinstance(values, list) else values.take(order)
    return _People(
        n=n,
        persona=persona,
        ctype=ctype,
        country=country,
        rate=rate,
        basket=basket,
        signup=signup,
        churn=np.full(n, np.inf),
        rows=rows,
    )


def _format_phone(code: str, number: int, salt: int) -> str:
    digits = f"{number:08d}"
    if code in ("US", "CA"):
        area = 201 + int(digits[0]) * 78 + salt % 78  # keeps the first digit recoverable
        return f"+1 {area}-{digits[1:4]}-{digits[4:]}"
    if code == "CN":
        return f"+86 1{3 + salt % 7}{digits[0]} {digits[1:5]} {digits[5:8]}{salt % 10}"
    return f"{_PHONE_FORMAT[code]} {digits[:4]} {digits[4:]}"


def _interests(rng: np.random.Generator, persona: np.ndarray) -> pa.Array:
    n = len(persona)
    index = {name: i for i, name in enumerate(cat.INTERESTS)}
    score = rng.random((n, len(cat.INTERESTS)))
    for p, (_, _, _, liked) in enumerate(cat.PERSONAS):
        rows = persona == p
        for name in liked:
            score[rows, index[name]] += 0.8
    count = rng.choice(5, n, p=[0.25, 0.2, 0.25, 0.2, 0.1])
    order = np.argsort(-score, axis=1)
    take = np.arange(len(cat.INTERESTS))[None, :] < count[:, None]
    values = order[take]
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(np.array(cat.INTERESTS, dtype=object)[values], pa.string())
    )


# --- Orders -----------------------------------------------------------------------------------


class _Book:
    """Orders and their lines as growing lists of parallel arrays."""

    def __init__(self) -> None:
        self._orders: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._lines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add_orders(
        self, cust: np.ndarray, t: np.ndarray, guest: np.ndarray | None = None
    ) -> np.ndarray:
        """Append orders (cust -1 = guest); returns their order numbers."""
        if guest is None:
            guest = np.full(len(cust), -1)
        self._orders.append((cust.astype(np.int64), t.astype(np.float64), guest.astype(np.int64)))
        first, self.count = self.count, self.count + len(cust)
        return np.arange(first, self.count)

    def add_lines(
        self, order: np.ndarray, product: np.ndarray, qty: np.ndarray, *, planted: bool = False
    ) -> None:
        self._lines.append(
            (
                order.astype(np.int64),
                product.astype(np.int64),
                qty.astype(np.int64),
                np.full(len(order), planted),
            )
        )

    def orders(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.concatenate(c) for c in zip(*self._orders, strict=True))  # type: ignore[return-value]

    def lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.concatenate(c) for c in zip(*self._lines, strict=True))  # type: ignore[return-value]


def _quantities(rng: np.random.Generator, business: np.ndarray) -> np.ndarray:
    n = len(business)
    qty = 1 + (rng.random(n) < 0.12) + (rng.random(n) < 0.04)
    bulk = np.maximum(1, np.round(rng.lognormal(np.log(6), 0.6, n)))
    return np.where(business, bulk, qty).astype(np.int64)


def _fill_baskets(
    rng: np.random.Generator,
    book: _Book,
    catalogue: _Catalogue,
    orders: np.ndarray,
    persona: np.ndarray,
    extra: np.ndarray,
    business: np.ndarray,
    taste: np.ndarray | None = None,
) -> None:
    """Give each order 1 + ``extra`` lines drawn from its buyer's persona (and taste)."""
    n_lines = 1 + extra
    product = catalogue.pick(
        rng,
        _pick_top(rng, np.repeat(persona, n_lines)),
        None if taste is None else np.repeat(taste, n_lines),
    )
    qty = _quantities(rng, np.repeat(business, n_lines))
    book.add_lines(np.repeat(orders, n_lines), product, qty)


def _some_of(rng: np.random.Generator, rows: int, options: int, p: float) -> np.ndarray:
    """A boolean (rows, options) pick with probability ``p`` each, at least one per row."""
    pick = rng.random((rows, options)) < p
    forced = rng.integers(0, options, rows)
    pick[np.arange(rows), forced] |= ~pick.any(axis=1)
    return pick


def _choose(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(pool))
    return np.sort(rng.choice(pool, k, replace=False)) if k else np.array([], dtype=np.int64)


def _plant_chains(
    rng: np.random.Generator, book: _Book, catalogue: _Catalogue, people: _People, days: float
) -> list[dict[str, Any]]:
    """Baby bottle → baby food/clothes/toys (same basket or soon after); laptop → camera or
    home theatre in a separate, later order."""
    o_cust, o_t, _ = book.orders()
    line_order, line_product, _, _ = book.lines()
    churn = np.where(o_cust >= 0, people.churn[np.maximum(o_cust, 0)], np.inf)
    one = np.ones

    baby = np.array([catalogue.index[s] for s in cat.BABY_CHAIN_CONSEQUENTS])
    hits = np.unique(line_order[line_product == catalogue.index[cat.BABY_BOTTLE]])
    u = rng.random(len(hits))
    same = hits[u < 0.6]
    rows, cols = np.nonzero(_some_of(rng, len(same), len(baby), 0.5))
    book.add_lines(same[rows], baby[cols], one(len(rows)))
    later = hits[(u >= 0.6) & (u < 0.9) & (o_cust[hits] >= 0)]
    t_next = o_t[later] + rng.uniform(1, 30, len(later))
    ok = (t_next < days) & (t_next <= churn[later])
    follow = book.add_orders(o_cust[later][ok], t_next[ok])
    rows, cols = np.nonzero(_some_of(rng, len(follow), len(baby), 0.4))
    book.add_lines(follow[rows], baby[cols], one(len(rows)))
    baby_chain = {
        "name": "baby starter",
        "kind": "basket",
        "antecedent": [cat.BABY_BOTTLE],
        "consequents": list(cat.BABY_CHAIN_CONSEQUENTS),
        "same_basket_probability": 0.6,
        "follow_up_probability": 0.3,
        "max_gap_days": 30,
        "antecedent_orders": int(len(hits)),
        "same_basket_orders": int(len(same)),
        "follow_up_orders": int(len(follow)),
    }

    av = np.array([catalogue.index[s] for s in cat.LAPTOP_CHAIN_CONSEQUENTS])
    hits = np.unique(line_order[line_product == catalogue.index[cat.LAPTOP]])
    hits = hits[o_cust[hits] >= 0]
    go = hits[rng.random(len(hits)) < 0.5]
    t_next = o_t[go] + rng.uniform(14, 120, len(go))
    ok = (t_next < days) & (t_next <= churn[go])
    follow = book.add_orders(o_cust[go][ok], t_next[ok])
    r = rng.random(len(follow))
    camera, theatre = r < 0.7, r >= 0.55  # 55% camera, 30% home theatre, 15% both
    book.add_lines(follow[camera], np.full(camera.sum(), av[0]), one(camera.sum()))
    book.add_lines(follow[theatre], np.full(theatre.sum(), av[1]), one(theatre.sum()))
    laptop_chain = {
        "name": "home entertainment",
        "kind": "sequence",
        "antecedent": [cat.LAPTOP],
        "consequents": list(cat.LAPTOP_CHAIN_CONSEQUENTS),
        "follow_up_probability": 0.5,
        "min_gap_days": 14,
        "max_gap_days": 120,
        "antecedent_orders": int(len(hits)),
        "follow_up_orders": int(len(follow)),
    }
    return [baby_chain, laptop_chain]


def _plant_periodic(
    rng: np.random.Generator,
    book: _Book,
    catalogue: _Catalogue,
    people: _People,
    clock: _Clock,
    yearly: np.ndarray,
    interval: np.ndarray,
) -> list[tuple[int, dict[str, Any]]]:
    """Yearly gift buyers (same month every year) and refill buyers (every N±3 days)."""
    days = float(clock.days)
    gifts = [p for p in cat.PLANTED_PRODUCTS if p.role == "yearly"]
    refills = [p for p in cat.PLANTED_PRODUCTS if p.role == "interval"]
    planted: list[tuple[int, dict[str, Any]]] = []
    cust: list[int] = []
    when: list[float] = []
    sku: list[int] = []
    choice = rng.integers(0, len(gifts), len(yearly))
    months = rng.integers(1, 13, len(yearly))
    day = rng.integers(1, 29, len(yearly))
    jitter = rng.integers(-2, 3, (len(yearly), clock.end.year - clock.start.year + 1))
    hour = rng.uniform(0.3, 0.95, jitter.shape)
    for i, c in enumerate(yearly):
        product = gifts[choice[i]]
        month = product.month or int(months[i])
        times = []
        for j, year in enumerate(range(clock.start.year, clock.end.year + 1)):
            d = clock.day(dt.date(year, month, int(np.clip(day[i] + jitter[i, j], 1, 28))))
            t = d + hour[i, j]
            if 0 <= t < days and t >= people.signup[c]:
                times.append(t)
        cust += [int(c)] * len(times)
        when += times
        sku += [catalogue.index[product.sku]] * len(times)
        entry = {"kind": "yearly", "sku": product.sku, "month": month, "day": int(day[i])}
        planted.append((int(c), entry | {"jitter_days": 2, "occurrences": len(times)}))
    choice = rng.integers(0, len(refills), len(interval))
    for i, c in enumerate(interval):
        product = refills[choice[i]]
        every = int(product.interval_days or 30)
        steps = every + rng.integers(-3, 4, int(days // (every - 3)) + 2)
        times = (
            np.maximum(people.signup[c], 0) + rng.uniform(0, every) + np.cumsum(steps) - steps[0]
        )
        times = times[times < days]
        cust += [int(c)] * len(times)
        when += times.tolist()
        sku += [catalogue.index[product.sku]] * len(times)
        entry = {"kind": "interval", "sku": product.sku, "interval_days": every}
        entry |= {"jitter_days": 3, "occurrences": int(len(times))}
        if len(times):
            entry["first_at"] = _iso(clock, float(times[0]))
        planted.append((int(c), entry))
    cust_a, when_a = np.array(cust, dtype=np.int64), np.array(when)
    orders = book.add_orders(cust_a, when_a)
    book.add_lines(orders, np.array(sku), np.ones(len(orders)), planted=True)
    extra = orders[rng.random(len(orders)) < 0.2]
    owner = cust_a[extra - orders[0]] if len(orders) else cust_a
    product = catalogue.pick(rng, _pick_top(rng, people.persona[owner]), people.taste[owner])
    book.add_lines(extra, product, np.ones(len(extra)))
    return planted


def _plant_ring(
    rng: np.random.Generator,
    book: _Book,
    catalogue: _Catalogue,
    ring: np.ndarray,
    start: float,
    end: float,
) -> list[str]:
    """Ring accounts each buy one little-known skincare product in the window (so their
    coming reviews look 'verified'); returns the target SKUs."""
    skincare = np.flatnonzero(
        np.array([catalogue.sub_names[s] == "Skincare" for s in catalogue.sub])
    )
    skincare = np.array([p for p in skincare if p not in catalogue.planted])
    targets = skincare[np.argsort(catalogue.weight[skincare], kind="stable")[:3]]
    t = rng.uniform(start, max(start, end - 0.01), len(ring))
    orders = book.add_orders(ring, t)
    book.add_lines(orders, rng.choice(targets, len(ring)), np.ones(len(ring)))
    return [str(catalogue.sku[p]) for p in targets]


def _iso(clock: _Clock, t: float) -> str:
    at = dt.datetime.combine(clock.start, dt.time(), dt.UTC) + dt.timedelta(
        seconds=int(np.floor(t * 86400))
    )
    return at.isoformat()


# --- Tables -----------------------------------------------------------------------------------


def _customer_ids(n: int, prefix: str, first: int = 0) -> list[str]:
    return [f"{prefix}{i + 1:07d}" for i in range(first, first + n)]


def _typo(word: str, r: random.Random) -> tuple[str, str]:
    """A plausible typing slip in ``word``: (new word, what happened)."""
    if not word.isascii() or len(word) < 3:
        return word + word[-1:], "doubled letter"
    i = r.randrange(1, len(word) - 1)
    slip = r.choice(("transposed letters", "dropped letter", "doubled letter", "wrong letter"))
    if slip == "transposed letters":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :], slip
    if slip == "dropped letter":
        return word[:i] + word[i + 1 :], slip
    if slip == "doubled letter":
        return word[: i + 1] + word[i] + word[i + 1 :], slip
    wrong = r.choice([c for c in "aeiourstn" if c != word[i].lower()])
    return word[:i] + wrong + word[i + 1 :], slip


def _marketplace_twin(
    row: dict[str, Any], r: random.Random
) -> tuple[dict[str, Any], dict[str, str]]:
    """The same person's marketplace registration, with the slips people make."""
    twin, typos = dict(row), {}
    if r.random() < 0.65:
        if row["first_name"].isascii():
            field = r.choice(("first_name", "last_name"))
            twin[field], typos[field] = _typo(row[field], r)
        else:  # Chinese names: family and given name written the other way round
            twin["first_name"], twin["last_name"] = row["last_name"], row["first_name"]
            typos["name"] = "family and given name swapped"
    local, _, domain = row["email"].partition("@")
    roll = r.random()
    if roll < 0.45:
        local, typos["email"] = _typo(local, r)
        typos["email"] = f"address {typos['email']}"
    elif roll < 0.8 and domain in _DOMAIN_TYPOS:
        domain, typos["email"] = _DOMAIN_TYPOS[domain], "domain typo"
    elif roll < 0.9:
        local, typos["email"] = local.capitalize(), "capitalised"
    twin["email"] = f"{local}@{domain}"
    roll = r.random()
    digits = "".join(ch for ch in row["phone"] if ch.isdigit())
    country_code = row["phone"].split()[0].lstrip("+")
    if roll < 0.4:
        national = digits[len(country_code) :]
        twin["phone"], typos["phone"] = national, "written without country code or spaces"
    elif roll < 0.8:
        i = r.randrange(len(digits) - 6, len(digits))
        new = str((int(digits[i]) + r.randrange(1, 10)) % 10)
        twin["phone"], typos["phone"] = digits[:i] + new + digits[i + 1 :], "one digit wrong"
    else:
        twin["phone"], typos["phone"] = None, "left out"
    if r.random() < 0.3:
        twin["street"] = row["street"].replace("Street", "St").replace("Avenue", "Ave")
    twin["consent_email_marketing"] = r.random() < 0.4
    return twin, typos


_CUSTOMER_COLUMNS = (
    "source", "external_id", "kind", "customer_type", "first_name", "last_name", "company_name",
    "gender", "birthday", "occupation", "interests", "country", "region", "city", "street",
    "postcode", "language", "time_zone", "email", "phone", "consent_email_marketing",
    "signed_up_at",
)  # fmt: skip


def _customers_table(
    rng: np.random.Generator,
    people: _People,
    duplicates: np.ndarray,
    mp_signup: np.ndarray,
    clock: _Clock,
    offsets: _Offsets = _Offsets(),
) -> tuple[pa.Table, list[dict[str, Any]]]:
    n = people.n
    rows = dict(people.rows)
    rows["source"] = [MAIN_SOURCE] * n
    rows["external_id"] = _customer_ids(n, "C", offsets.customers)
    signup = people.signup.copy()
    columns = {k: pa.array(v) if isinstance(v, list) else v for k, v in rows.items()}
    columns["signed_up_at"] = _to_us(clock.start_us, signup)
    main = pa.table({k: columns[k] for k in _CUSTOMER_COLUMNS})

    r = random.Random(int(rng.integers(0, 2**63)))
    source_rows = main.take(pa.array(duplicates, pa.int64())).to_pylist()
    twins, truth = [], []
    twin_ids = _customer_ids(len(duplicates), "MPU", offsets.duplicates)
    for j, row in enumerate(source_rows):
        twin, typos = _marketplace_twin(row, r)
        twin["source"] = DUPLICATE_SOURCE
        twin["external_id"] = twin_ids[j]
        twins.append(twin)
        truth.append(
            {
                "customer_id": row["external_id"],
                "source": MAIN_SOURCE,
                "duplicate_id": twin_ids[j],
                "duplicate_source": DUPLICATE_SOURCE,
                "typos": typos,
            }
        )
    twin_table = pa.Table.from_pylist(twins, schema=main.schema)
    twin_signup = _to_us(clock.start_us, mp_signup)
    twin_table = twin_table.set_column(
        twin_table.schema.get_field_index("signed_up_at"), "signed_up_at", twin_signup
    )
    return pa.concat_tables([main, twin_table]), truth


def _order_line_table(
    rng: np.random.Generator,
    clock: _Clock,
    catalogue: _Catalogue,
    customers: pa.Table,
    n_main: int,
    o_cust: np.ndarray,
    o_t: np.ndarray,
    o_guest: np.ndarray,
    line_order: np.ndarray,
    line_product: np.ndarray,
    line_qty: np.ndarray,
    returned: np.ndarray,
    r_t: np.ndarray,
    churn_of: np.ndarray,
    offsets: _Offsets = _Offsets(),
) -> pa.Table:
    """Order lines (sorted by order time) plus return lines for the returned orders."""
    days = float(clock.days)
    n_orders = len(o_cust)
    rank = np.empty(n_orders, dtype=np.int64)
    rank[np.argsort(o_t, kind="stable")] = np.arange(n_orders)

    # Returns: every line (half the time) or just the first; never after the buyer churned.
    returned = returned & (r_t <= churn_of) & (r_t < days)
    return_all = rng.random(n_orders) < 0.5
    sort = np.argsort(rank[line_order] * len(catalogue.sku) + line_product)
    line_order, line_product, line_qty = line_order[sort], line_product[sort], line_qty[sort]
    first_line = np.ones(len(line_order), dtype=bool)
    first_line[1:] = line_order[1:] != line_order[:-1]
    back = returned[line_order] & (return_all[line_order] | first_line)

    sale = clock.is_sale(o_t[line_order])
    discount = np.where(sale, 0.8, np.where(rng.random(len(line_order)) < 0.07, 0.9, 1.0))
    unit_price = np.round(catalogue.price[line_product] * discount, 2)

    width = _width(8, offsets.orders + n_orders)
    ws = _seq_ids(ORDER_PREFIX[MAIN_SOURCE], n_orders, width, offsets.orders + 1)
    mp = _seq_ids(ORDER_PREFIX[DUPLICATE_SOURCE], n_orders, width, offsets.orders + 1)
    on_mp = o_cust >= n_main
    order_ids = pc.if_else(pa.array(on_mp), _take(mp, rank), _take(ws, rank))

    # Guests: an email and a country each.
    n_guests = int(o_guest.max()) + 1 if len(o_guest) else 0
    cshare = np.array([c[4] for c in _COUNTRIES])
    guest_country = np.array([c[0] for c in _COUNTRIES], dtype=object)[
        rng.choice(len(_COUNTRIES), n_guests, p=cshare / cshare.sum())
    ]
    domains = _EMAIL_DOMAINS["en_US"]
    guest_email = pa.array(
        [
            f"shopper{g + 1}@{domains[g % len(domains)]}"
            for g in range(offsets.guests, offsets.guests + n_guests)
        ],
        pa.string(),
    )

    age = days - o_t
    status = np.where(age < 2, 0, np.where(age < 7, 1, 2))
    status_names = pa.array(["shipped", "delivered", "completed"])

    # Both parts share the per-line arrays; returns flip the sign and get their own order.
    part = np.concatenate([np.arange(len(line_order)), np.flatnonzero(back)])
    is_return = np.concatenate([np.zeros(len(line_order), bool), np.ones(back.sum(), bool)])
    order = line_order[part]
    when = np.where(is_return, r_t[order], o_t[order])
    # Both parts are already in order-then-line order: a stable sort on time merges them.
    final = np.argsort(when, kind="stable")
    part, is_return, order, when = part[final], is_return[final], order[final], when[final]

    ids = _take(order_ids, order)
    ids = pc.if_else(pa.array(is_return), pc.binary_join_element_wise(RETURN_PREFIX, ids, ""), ids)
    product = line_product[part]
    buyer = o_cust[order]
    guest = buyer < 0
    sub_names = pa.array(catalogue.sub_names)
    kind = pa.array(np.where(is_return, "return", "order"))
    status_index = np.where(is_return, 3, status[order])
    status_names = pa.array(["shipped", "delivered", "completed", "returned"])
    return pa.table(
        {
            "order_id": ids,
            "placed_at": _to_us(clock.start_us, when),
            "customer_id": _take(customers["external_id"].combine_chunks(), buyer),
            "sku": _take(pa.array(catalogue.sku, pa.string()), product),
            "product_name": _take(pa.array(catalogue.name, pa.string()), product),
            "category": _take(sub_names, catalogue.sub[product]),
            "quantity": pa.array(np.where(is_return, -1, 1) * line_qty[part], pa.int64()),
            "unit_price": pa.array(unit_price[part], pa.float64()),
            "currency": pa.array(np.full(len(part), CURRENCY)),
            "kind": kind,
            "status": _take(status_names, status_index),
            "country": pc.if_else(
                pa.array(guest),
                _take(pa.array(guest_country, pa.string()), np.where(guest, o_guest[order], 0)),
                _take(customers["country"].combine_chunks(), np.maximum(buyer, 0)),
            ),
            "email": _take(guest_email, o_guest[order], ~guest),
        },
        schema=ORDER_LINE_SCHEMA,
    )


def _events(
    rng: np.random.Generator,
    clock: _Clock,
    catalogue: _Catalogue,
    people: _People,
    customer_ids: pa.Array,
    o_cust: np.ndarray,
    o_t: np.ndarray,
    o_guest: np.ndarray,
    line_order: np.ndarray,
    line_product: np.ndarray,
    offsets: _Offsets = _Offsets(),
) -> pa.Table:
    """Browsing that leads to the purchases, browsing that does not, and anonymous visitors."""
    days = float(clock.days)
    n = people.n
    VIEW, CART, SEARCH = 0, 1, 2
    parts: list[tuple[np.ndarray, ...]] = []  # (type, cust, anon, product, t)

    # 1. Views (and usually a cart add) before each webshop purchase.
    webshop = (o_cust < n)[line_order]
    order, product = line_order[webshop], line_product[webshop]
    views = 1 + rng.poisson(0.5, len(order))
    v_order, v_product = np.repeat(order, views), np.repeat(product, views)
    v_t = o_t[v_order] - rng.exponential(1.5, len(v_order)) - 0.002
    carted = rng.random(len(order)) < 0.85
    c_order, c_product = order[carted], product[carted]
    c_t = o_t[c_order] - rng.uniform(0.001, 0.05, len(c_order))
    e_order = np.concatenate([v_order, c_order])
    cust = o_cust[e_order]
    t = np.concatenate([v_t, c_t])
    signup = np.where(cust >= 0, people.signup[np.maximum(cust, 0)], -np.inf)
    keep = (t >= 0) & (t >= signup)
    parts.append(
        (
            np.concatenate([np.full(len(v_order), VIEW), np.full(len(c_order), CART)])[keep],
            cust[keep],
            np.where(cust < 0, o_guest[e_order], -1)[keep],
            np.concatenate([v_product, c_product])[keep],
            t[keep],
        )
    )

    # 2. Registered customers browsing without buying, while they are active.
    a = np.maximum(people.signup, 0.0)
    b = np.minimum(people.churn, days)
    months_active = clock.mass(a, b) / 30.44
    count = rng.poisson(months_active * (0.2 + 1.5 * people.rate))
    cust = np.repeat(np.arange(n), count)
    t = clock.sample(a[cust], b[cust], rng.random(len(cust)))
    product = catalogue.pick(rng, _pick_top(rng, people.persona[cust]), people.taste[cust])
    kind = rng.choice(3, len(cust), p=[0.7, 0.1, 0.2])
    parts.append((kind, cust, np.full(len(cust), -1), product, t))

    # 3. Anonymous visitors: short sessions of views and searches.
    n_guests = int(o_guest.max()) + 1 if len(o_guest) else 0
    visitors = _visitors(n)
    size = 1 + rng.poisson(2.0, visitors)
    start = clock.sample(np.zeros(visitors), np.full(visitors, days), rng.random(visitors))
    who = np.repeat(np.arange(visitors), size)
    t = np.minimum(start[who] + rng.uniform(0, 0.03, len(who)), np.nextafter(days, 0))
    persona = np.full(len(who), len(cat.PERSONAS) - 1)
    product = catalogue.pick(rng, _pick_top(rng, persona))
    kind = np.where(rng.random(len(who)) < 0.75, VIEW, SEARCH)
    parts.append((kind, np.full(len(who), -1), n_guests + who, product, t))

    kind, cust, anon, product, t = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.argsort(t)
    kind, cust, anon, product, t = kind[order], cust[order], anon[order], product[order], t[order]

    # Searches carry the query (the product's noun, sometimes in Chinese) and no product.
    queries = sorted({str(x).lower() for x in catalogue.noun}) + list(_ZH_QUERIES)
    query_of = {q: i for i, q in enumerate(queries)}
    product_query = np.array([query_of[str(x).lower()] for x in catalogue.noun])
    search = kind == SEARCH
    chinese = rng.random(len(kind)) < 0.1
    query = np.where(
        chinese,
        len(queries) - len(_ZH_QUERIES) + rng.integers(0, len(_ZH_QUERIES), len(kind)),
        product_query[product],
    )
    props = [*_VIEW_PROPERTIES, '{"quantity": 1}']
    props += [json.dumps({"query": q}, ensure_ascii=False) for q in queries]
    prop_index = np.where(
        search,
        len(_VIEW_PROPERTIES) + 1 + query,
        np.where(
            kind == CART, len(_VIEW_PROPERTIES), rng.integers(0, len(_VIEW_PROPERTIES), len(kind))
        ),
    )
    anon_ids = pa.concat_arrays(
        [
            _seq_ids("anon-g", n_guests, _width(7, offsets.guests + n_guests), offsets.guests + 1),
            _seq_ids(
                "anon-v", visitors, _width(7, offsets.visitors + visitors), offsets.visitors + 1
            ),
        ]
    )
    types = pa.array(["viewed_product", "added_to_cart", "searched"])
    return pa.table(
        {
            "external_id": _seq_ids(
                "EV", len(kind), _width(10, offsets.events + len(kind)), offsets.events + 1
            ),
            "event_type": _take(types, kind),
            "customer_id": _take(customer_ids, cust),
            "anonymous_id": _take(anon_ids, anon),
            "sku": _take(pa.array(catalogue.sku, pa.string()), np.where(search, -1, product)),
            "properties": _take(pa.array(props), prop_index),
            "occurred_at": _to_us(clock.start_us, t),
        }
    )


# --- The store --------------------------------------------------------------------------------

# Stores larger than this are generated in parts (see generate_store_parts).
PART_CUSTOMERS = 100_000


def _visitors(customers: int) -> int:
    """Anonymous visitors of a store (or part) of ``customers`` customers."""
    return max(20, customers // 2)


def generate_store(
    customers: int = 1000,
    *,
    seed: int = 0,
    months: int = 24,
    end: dt.date = DEFAULT_END,
    taste: bool = True,
) -> SimulatedStore:
    """Simulate ``customers`` webshop customers buying for ``months`` months up to ``end``.

    Pure and deterministic: the same arguments give identical tables and truth. ``taste=False``
    leaves out the taste clusters (every pick by store-wide popularity inside the persona's
    categories, as before they existed): for measuring what the clusters change.
    """
    _check(customers, months)
    rng = np.random.default_rng(seed)
    clock = _Clock(end, months)
    catalogue = _build_catalogue(rng, customers)
    store, _ = _simulate(rng, clock, catalogue, customers, seed, months, _Offsets(), taste)
    return store


def generate_store_parts(
    customers: int,
    *,
    seed: int = 0,
    months: int = 24,
    end: dt.date = DEFAULT_END,
    part_customers: int = PART_CUSTOMERS,
) -> Iterator[SimulatedStore]:
    """The store of ``customers`` customers in parts of at most ``part_customers`` customers,
    one part at a time, so that memory is bounded by one part, not by the store.

    Up to ``part_customers`` customers the only part is exactly ``generate_store(customers,
    …)``. Beyond that, the parts share the catalogue and the time window, each draws from its
    own random stream (seeded with ``seed`` and the part's number), and customers, orders,
    guests, visitors and events are numbered on from the parts before, so the parts together
    form one store with unique ids. Each part's truth describes that part; :func:`merge_truth`
    combines them. Deterministic: the same arguments give the same parts.
    """
    _check(customers, months)
    if customers <= part_customers:
        yield generate_store(customers, seed=seed, months=months, end=end)
        return
    clock = _Clock(end, months)
    catalogue = _build_catalogue(np.random.default_rng(seed), customers)
    parts = -(-customers // part_customers)
    offsets = _Offsets()
    for i in range(parts):
        size = customers // parts + (1 if i < customers % parts else 0)
        rng = np.random.default_rng([seed, i])
        store, made = _simulate(rng, clock, catalogue, size, seed, months, offsets)
        offsets += made
        yield store


def merge_truth(truths: list[dict[str, Any]], customer_revenue: np.ndarray) -> dict[str, Any]:
    """One truth for a store generated in parts (:func:`generate_store_parts`): the parts'
    planted facts together, counts added up, and the Pareto share measured on
    ``customer_revenue`` (every part's :func:`customer_revenue`, concatenated)."""
    if len(truths) == 1:
        return truths[0]
    first = truths[0]
    merged = dict(first)
    merged["customers"] = sum(t["customers"] for t in truths)
    merged["parts"] = len(truths)
    for key in ("churners", "periodic_buyers", "duplicates"):
        merged[key] = [entry for t in truths for entry in t[key]]
    chains = []
    for i, chain in enumerate(first["product_chains"]):
        chain = dict(chain)
        for key in ("antecedent_orders", "same_basket_orders", "follow_up_orders"):
            if key in chain:
                chain[key] = sum(t["product_chains"][i][key] for t in truths)
        chains.append(chain)
    merged["product_chains"] = chains
    merged["review_ring"] = {
        **first["review_ring"],
        "accounts": [a for t in truths for a in t["review_ring"]["accounts"]],
    }
    merged["pareto"] = {
        **first["pareto"],
        "revenue_share": round(_top_share(customer_revenue, first["pareto"]["top_fraction"]), 4),
    }
    counts = dict(first["counts"])
    for key in ("customers", "orders", "order_lines", "events"):
        counts[key] = sum(t["counts"][key] for t in truths)
    merged["counts"] = counts
    return merged


def _check(customers: int, months: int) -> None:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")


def _simulate(
    rng: np.random.Generator,
    clock: _Clock,
    catalogue: _Catalogue,
    customers: int,
    seed: int,
    months: int,
    offsets: _Offsets,
    taste: bool = True,
) -> tuple[SimulatedStore, _Offsets]:
    """The store (or one part of it) and how many of each numbered thing it made."""
    days = float(clock.days)
    people = _build_people(rng, seed, customers, clock, offsets.customers)
    # Taste draws come from a second generator seeded from the same seed: every draw of the
    # main one (order times, basket sizes, which category…) stays what it was without taste.
    # A part after the first draws its own taste stream (the store's clusters are the same).
    taste_seed = [abs(seed), 1] if offsets.customers == 0 else [abs(seed), 1, offsets.customers]
    tastes = _build_taste(np.random.default_rng(taste_seed), catalogue, people.persona)
    people.taste = tastes.cluster if taste else np.full(people.n, -1)
    n = people.n
    business = people.ctype > 0
    everyone = np.arange(n)
    persons = everyone[~business]

    # Planted groups are disjoint.
    taken = np.zeros(n, dtype=bool)

    def draw(candidates: np.ndarray, k: int) -> np.ndarray:
        chosen = _choose(rng, candidates[~taken[candidates]], k)
        taken[chosen] = True
        return chosen

    # The review ring: accounts opened shortly before the ring's window, which buy little.
    ring_start = days - 120.0 if days > 150 else days * 0.5
    ring_end = min(days - 0.5, ring_start + 21.0)
    freshness = np.abs(people.signup[persons] - (ring_start - 15.0))
    ring_size = int(np.clip(n // 400, 6, 40))
    ring = draw(persons[np.argsort(freshness, kind="stable")[: 3 * ring_size]], ring_size)
    people.rate[ring] = 0.05

    veterans = persons[people.signup[persons] < 0]
    yearly = draw(veterans, max(1, round(0.02 * n)))
    interval = draw(veterans, max(1, round(0.015 * n)))
    periodic = np.concatenate([yearly, interval])
    people.rate[periodic] = np.maximum(people.rate[periodic], 0.15)

    established = everyone[people.signup < days - 150]
    churn_pool = established[people.rate[established] >= np.quantile(people.rate, 0.4)]
    churners = draw(churn_pool, round(0.10 * n))
    lo = np.maximum(people.signup[churners], 0) + 90
    people.churn[churners] = rng.uniform(lo, np.maximum(lo + 1, days - 60))

    duplicates = draw(persons[people.signup[persons] < days - 60], round(0.02 * n))

    # Background orders: Poisson counts over each customer's seasonal window.
    book = _Book()
    a = np.maximum(people.signup, 0.0)
    count = rng.poisson(people.rate / 30.44 * clock.mass(a, np.full(n, days)))
    cust = np.repeat(everyone, count)
    t = clock.sample(a[cust], np.full(len(cust), days), rng.random(len(cust)))
    # Churners stop at churned_at; one with fewer than two orders before it never churned.
    kept = np.bincount(cust[t <= people.churn[cust]], minlength=n)
    people.churn[churners[kept[churners] < 2]] = np.inf
    churners = churners[kept[churners] >= 2]
    keep = t <= people.churn[cust]
    cust, t = cust[keep], t[keep]
    orders = book.add_orders(cust, t)
    extra = rng.poisson(people.basket[cust])
    _fill_baskets(
        rng,
        book,
        catalogue,
        orders,
        people.persona[cust],
        extra,
        business[cust],
        people.taste[cust],
    )

    # Guests: ~3% of orders, from visitors who never sign up (a few come back).
    g = max(1, int(0.03 * len(cust)))
    guest = rng.integers(0, max(1, int(g * 0.8)), g)
    t = clock.sample(np.zeros(g), np.full(g, days), rng.random(g))
    orders = book.add_orders(np.full(g, -1), t, guest)
    generalist = np.full(g, len(cat.PERSONAS) - 1)
    _fill_baskets(rng, book, catalogue, orders, generalist, rng.poisson(0.5, g), np.zeros(g, bool))

    chains = _plant_chains(rng, book, catalogue, people, days)
    periodic_plan = _plant_periodic(rng, book, catalogue, people, clock, yearly, interval)
    target_skus = _plant_ring(rng, book, catalogue, ring, ring_start, ring_end)

    # Duplicate identities: the same person also registered on the marketplace (customer
    # index n + j) and placed some of their later orders there.
    o_cust, o_t, o_guest = book.orders()
    since = np.maximum(people.signup[duplicates], 0)
    mp_signup = since + rng.uniform(0, 1, len(duplicates)) * (days - 30 - since) * 0.5
    alias = np.full(n, -1)
    alias[duplicates] = np.arange(len(duplicates))
    twin = np.where(o_cust >= 0, alias[np.maximum(o_cust, 0)], -1)
    twin_since = np.append(mp_signup, np.inf)[np.where(twin >= 0, twin, len(mp_signup))]
    moved = (twin >= 0) & (rng.random(len(o_cust)) < 0.4) & (o_t >= twin_since)
    o_cust = np.where(moved, n + twin, o_cust)

    line_order, line_product, line_qty, line_planted = book.lines()
    # Periodic buyers buy their planted product on schedule only; one line per product/order.
    schedule = np.full(n, -1)
    for c, entry in periodic_plan:
        schedule[c] = catalogue.index[entry["sku"]]
    buyer = np.append(schedule, np.full(len(duplicates), -1))[np.maximum(o_cust, 0)]
    off = ~line_planted & (o_cust[line_order] >= 0) & (line_product == buyer[line_order])
    line_product = np.where(off, catalogue.by_top[0][0], line_product)
    _, first = np.unique(line_order * len(catalogue.sku) + line_product, return_index=True)
    first.sort()
    line_order, line_product, line_qty = line_order[first], line_product[first], line_qty[first]

    customers_table, dup_truth = _customers_table(
        rng, people, duplicates, mp_signup, clock, offsets
    )
    customer_ids = customers_table["external_id"].combine_chunks()
    churn_of = np.append(people.churn, np.full(len(duplicates), np.inf))
    churn_of = np.where(o_cust >= 0, churn_of[np.maximum(o_cust, 0)], np.inf)
    returned = (rng.random(len(o_cust)) < 0.03) & (o_t <= days - 30)
    r_t = o_t + rng.uniform(3, 28, len(o_cust))
    lines = _order_line_table(
        rng,
        clock,
        catalogue,
        customers_table,
        n,
        o_cust,
        o_t,
        o_guest,
        line_order,
        line_product,
        line_qty,
        returned,
        r_t,
        churn_of,
        offsets,
    )
    events = _events(
        rng,
        clock,
        catalogue,
        people,
        customer_ids,
        o_cust,
        o_t,
        o_guest,
        line_order,
        line_product,
        offsets,
    )

    ids = customer_ids.to_pylist()
    churn_truth = []
    last = np.full(n, -np.inf)
    np.maximum.at(last, o_cust[(o_cust >= 0) & (o_cust < n)], o_t[(o_cust >= 0) & (o_cust < n)])
    before = np.bincount(o_cust[(o_cust >= 0) & (o_cust < n)], minlength=n)
    for c in churners:
        churn_truth.append(
            {
                "customer_id": ids[c],
                "churned_at": _iso(clock, float(people.churn[c])),
                "last_order_at": _iso(clock, float(last[c])),
                "orders": int(before[c]),
            }
        )
    truth = {
        "seed": seed,
        "customers": n,
        "months": months,
        "start": clock.start.isoformat(),
        "end": clock.end.isoformat(),
        "currency": CURRENCY,
        "sources": {"main": MAIN_SOURCE, "duplicate": DUPLICATE_SOURCE},
        "churners": churn_truth,
        "periodic_buyers": [{"customer_id": ids[c], **entry} for c, entry in periodic_plan],
        "product_chains": chains,
        "taste": {
            "brand_loyalty": BRAND_LOYALTY,
            "favourite_brands": FAVOURITE_BRANDS,
            "price_width": PRICE_WIDTH,
            "clusters": tastes.clusters,
        }
        if taste
        else None,
        "duplicates": dup_truth,
        "review_ring": {
            "accounts": [ids[i] for i in ring],
            "target_skus": target_skus,
            "window_start": _iso(clock, ring_start),
            "window_end": _iso(clock, ring_end),
            "rating": 5,
            "reviews_per_account": len(target_skus),
            "note": "each account bought one target product in the window; reviews come later",
        },
        "pareto": {
            "top_fraction": TOP_FRACTION,
            "revenue_share": round(revenue_share_of_top(lines), 4),
            "population": "customer ids with at least one order line; revenue net of returns",
        },
        "counts": {
            "categories": catalogue.categories.num_rows,
            "products": catalogue.products.num_rows,
            "customers": customers_table.num_rows,
            "orders": len(pc.unique(lines["order_id"])),
            "order_lines": lines.num_rows,
            "events": events.num_rows,
        },
    }
    store = SimulatedStore(
        categories=catalogue.categories,
        products=catalogue.products,
        customers=customers_table,
        order_lines=lines,
        events=events,
        truth=truth,
    )
    made = _Offsets(
        customers=n,
        duplicates=len(duplicates),
        orders=len(o_cust),
        guests=int(o_guest.max()) + 1 if len(o_guest) else 0,
        visitors=_visitors(n),
        events=events.num_rows,
    )
    return store, made
