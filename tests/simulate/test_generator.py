"""The simulator's tables: shape, determinism, and the planted ground truth, checked against
the generated lines themselves (not against the truth's own bookkeeping)."""

import datetime as dt
import json
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from guanxi.simulate import catalogue as cat
from guanxi.simulate.generator import (
    DUPLICATE_SOURCE,
    MAIN_SOURCE,
    ORDER_LINE_SCHEMA,
    customer_revenue,
    generate_store,
    generate_store_parts,
    merge_truth,
    revenue_share_of_top,
)


def rows(con, sql, params=None):
    return con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()


# --- Determinism and shape --------------------------------------------------------------------


def test_same_seed_gives_identical_store_and_another_seed_does_not():
    a = generate_store(300, seed=3, months=12)
    b = generate_store(300, seed=3, months=12)
    c = generate_store(300, seed=4, months=12)
    for name, table in a.tables().items():
        assert table.equals(b.tables()[name]), name
    assert a.truth == b.truth
    assert not a.order_lines.equals(c.order_lines)
    assert not a.customers.equals(c.customers)


def test_order_lines_use_the_canonical_layout(store):
    lines = store.order_lines
    assert lines.schema == ORDER_LINE_SCHEMA
    assert set(pc.unique(lines["kind"]).to_pylist()) == {"order", "return"}
    assert set(pc.unique(lines["currency"]).to_pylist()) == {"USD"}
    start = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert pc.min(lines["placed_at"]).as_py() >= start
    assert pc.max(lines["placed_at"]).as_py() < end
    prices = lines["unit_price"].to_numpy()
    assert (prices > 0).all() and (abs(prices * 100 - (prices * 100).round()) < 1e-6).all()
    orders = lines.filter(pc.equal(lines["kind"], "order"))
    assert pc.min(orders["quantity"]).as_py() >= 1
    guests = orders.filter(pc.is_null(orders["customer_id"]))
    assert 0 < guests.num_rows < 0.1 * orders.num_rows
    assert pc.all(pc.is_valid(guests["email"])).as_py()


def test_every_line_belongs_to_one_customer_per_order(duck):
    assert (
        rows(
            duck, "SELECT order_id FROM l GROUP BY order_id HAVING count(DISTINCT customer_id) > 1"
        )
        == []
    )
    assert rows(duck, "SELECT count(*) FROM l GROUP BY order_id, sku HAVING count(*) > 1") == []


def test_catalogue_has_the_planted_products(store):
    products = store.products
    assert 300 <= products.num_rows <= 2000
    skus = set(products["sku"].to_pylist())
    assert len(skus) == products.num_rows
    assert {p.sku for p in cat.PLANTED_PRODUCTS} <= skus
    names = " | ".join(products["name"].to_pylist())
    for word in ("Baby Bottle", "Baby Food", "Bodysuits", "Rattle Toy", "Laptop", "Camera",
                 "Home Theatre"):  # fmt: skip
        assert word in names
    categories = set(store.categories["external_id"].to_pylist())
    parents = set(pc.drop_null(store.categories["parent_external_id"]).to_pylist())
    assert parents <= categories
    assert set(products["category_external_id"].to_pylist()) <= categories


def test_customers(store):
    customers = store.customers_for(MAIN_SOURCE)
    assert customers.num_rows == 4000
    assert len(set(customers["external_id"].to_pylist())) == 4000
    types = customers["customer_type"].to_pylist()
    assert 0.86 < types.count("individual") / len(types) < 0.94
    business = customers.filter(pc.not_equal(customers["customer_type"], "individual"))
    assert set(business["kind"].to_pylist()) == {"account"}
    assert all(business["company_name"].to_pylist())
    assert set(customers["country"].to_pylist()) >= {"US", "CN"}
    assert customers["signed_up_at"].type == pa.timestamp("us", tz="UTC")
    assert customers["birthday"].null_count > 0
    assert any(not n.isascii() for n in customers["last_name"].to_pylist())  # Chinese names
    assert all("@" in e for e in customers["email"].to_pylist())
    phones = customers["phone"].to_pylist()
    assert len(set(phones)) == len(phones)
    assert isinstance(customers["interests"].to_pylist()[0], list)


def test_truth_is_json_serialisable(store):
    truth = json.loads(json.dumps(store.truth))
    for key in ("churners", "periodic_buyers", "product_chains", "duplicates", "review_ring",
                "pareto"):  # fmt: skip
        assert truth[key]


# --- Realism ----------------------------------------------------------------------------------


def test_about_a_fifth_of_customers_bring_most_revenue(duck, store):
    revenue = [
        r[0]
        for r in rows(
            duck,
            """SELECT sum(quantity * unit_price) AS r FROM l WHERE customer_id IS NOT NULL
               GROUP BY customer_id ORDER BY r DESC""",
        )
    ]
    top = revenue[: -(-len(revenue) // 5)]
    share = sum(top) / sum(revenue)
    assert 0.70 <= share <= 0.90
    assert store.truth["pareto"]["revenue_share"] == pytest.approx(share, abs=1e-3)
    assert revenue_share_of_top(store.order_lines) == pytest.approx(share, abs=1e-9)


def test_november_and_december_peak(duck):
    orders = dict(
        rows(
            duck,
            """SELECT strftime(placed_at, '%Y-%m'), count(DISTINCT order_id) FROM l
               WHERE kind = 'order' GROUP BY 1""",
        )
    )
    for peak in ("2025-11", "2025-12"):
        for calm in ("2025-09", "2025-10", "2026-01", "2026-02"):
            assert orders[peak] > 1.3 * orders[calm], (peak, calm)
    double11 = rows(
        duck,
        """SELECT count(DISTINCT order_id) FILTER (WHERE placed_at::DATE = DATE '2025-11-11'),
                  count(DISTINCT order_id) FILTER (WHERE placed_at::DATE = DATE '2025-11-04')
           FROM l WHERE kind = 'order'""",
    )[0]
    assert double11[0] > 2 * double11[1]


def test_customers_sign_up_over_time_and_buy_after_signing_up(duck):
    in_window = rows(duck, "SELECT count(*) FROM c WHERE signed_up_at >= TIMESTAMPTZ '2024-11-01'")
    assert in_window[0][0] > 1000
    early = rows(
        duck,
        """SELECT count(*) FROM l JOIN c ON c.external_id = l.customer_id
           WHERE l.placed_at < c.signed_up_at""",
    )
    assert early[0][0] == 0


def test_returns_reference_real_orders(duck):
    returns = rows(duck, "SELECT DISTINCT order_id FROM l WHERE kind = 'return'")
    orders = rows(duck, "SELECT count(DISTINCT order_id) FROM l WHERE kind = 'order'")[0][0]
    assert 0.015 < len(returns) / orders < 0.045
    bad = rows(
        duck,
        """WITH r AS (SELECT * FROM l WHERE kind = 'return'),
                o AS (SELECT * FROM l WHERE kind = 'order')
           SELECT r.order_id, r.sku FROM r
           LEFT JOIN o ON r.order_id = 'R-' || o.order_id AND r.sku = o.sku
           WHERE o.order_id IS NULL OR r.quantity <> -o.quantity OR r.placed_at <= o.placed_at
              OR r.customer_id IS DISTINCT FROM o.customer_id OR r.unit_price <> o.unit_price
              OR r.status <> 'returned'""",
    )
    assert bad == []


def test_browsing_leads_to_buying(duck):
    # Most purchases by signed-up webshop customers were viewed by them shortly before.
    viewed = rows(
        duck,
        """WITH bought AS (
               SELECT DISTINCT customer_id, sku, placed_at FROM l
               WHERE kind = 'order' AND order_id LIKE 'WS-%' AND customer_id IS NOT NULL
                 AND placed_at > TIMESTAMPTZ '2024-11-15')
           SELECT avg(CASE WHEN EXISTS (
                      SELECT 1 FROM e WHERE e.customer_id = b.customer_id AND e.sku = b.sku
                        AND e.event_type = 'viewed_product' AND e.occurred_at < b.placed_at
                        AND e.occurred_at > b.placed_at - INTERVAL 30 DAY) THEN 1 ELSE 0 END)
           FROM bought b""",
    )[0][0]
    assert viewed > 0.9
    kinds = dict(rows(duck, "SELECT event_type, count(*) FROM e GROUP BY 1"))
    assert set(kinds) == {"viewed_product", "added_to_cart", "searched"}
    anonymous = rows(
        duck, "SELECT count(*) FROM e WHERE customer_id IS NULL AND anonymous_id IS NOT NULL"
    )[0][0]
    assert anonymous > 0
    assert (
        rows(duck, "SELECT count(*) FROM e WHERE customer_id IS NULL AND anonymous_id IS NULL")[0][
            0
        ]
        == 0
    )
    searches = rows(duck, "SELECT sku, properties FROM e WHERE event_type = 'searched' LIMIT 50")
    assert all(sku is None and json.loads(p)["query"] for sku, p in searches)


# --- Planted truth ----------------------------------------------------------------------------


def test_churners_stop_buying_and_browsing(duck, store):
    churners = store.truth["churners"]
    assert 0.04 * 4000 < len(churners) < 0.12 * 4000
    for c in churners[:150]:
        params = [c["customer_id"], c["churned_at"]]
        before = rows(
            duck,
            "SELECT count(*) FROM l WHERE kind = 'order' AND customer_id = ? "
            "AND placed_at <= ?::TIMESTAMPTZ",
            params,
        )[0][0]
        after = rows(
            duck,
            "SELECT count(*) FROM l WHERE customer_id = ? AND placed_at > ?::TIMESTAMPTZ",
            params,
        )[0][0]
        browsing = rows(
            duck, "SELECT count(*) FROM e WHERE customer_id = ? AND occurred_at > ?::TIMESTAMPTZ",
            params,
        )[0][0]  # fmt: skip
        assert before >= 2 and after == 0 and browsing == 0, c


def test_periodic_buyers_buy_on_schedule(duck, store):
    planted = store.truth["periodic_buyers"]
    yearly = [p for p in planted if p["kind"] == "yearly"]
    interval = [p for p in planted if p["kind"] == "interval"]
    assert 0.015 * 4000 <= len(yearly) <= 0.025 * 4000
    assert interval
    bought = defaultdict(list)
    ids = [p["customer_id"] for p in planted]
    for customer, sku, at in rows(
        duck,
        """SELECT customer_id, sku, placed_at FROM l
           WHERE kind = 'order' AND customer_id IN (SELECT unnest(?)) ORDER BY placed_at""",
        [ids],
    ):
        bought[customer, sku].append(at)
    for p in yearly:
        times = bought[p["customer_id"], p["sku"]]
        assert len(times) == p["occurrences"] >= 2, p
        assert {t.month for t in times} == {p["month"]}, p
        assert len({t.year for t in times}) == len(times), p
    for p in interval:
        times = bought[p["customer_id"], p["sku"]]
        assert len(times) == p["occurrences"] >= 5, p
        gaps = [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False)]
        assert all(abs(g - p["interval_days"]) <= 3.01 for g in gaps), (p, gaps)


def test_baby_bottle_buyers_buy_baby_goods(duck):
    baby = list(cat.BABY_CHAIN_CONSEQUENTS)
    with_bottle, base = rows(
        duck,
        """WITH o AS (SELECT order_id, list(sku) AS skus FROM l WHERE kind = 'order' GROUP BY 1)
           SELECT avg(list_has_any(skus, ?)::INT) FILTER (WHERE list_contains(skus, ?)),
                  avg(list_has_any(skus, ?)::INT)
           FROM o""",
        [baby, cat.BABY_BOTTLE, baby],
    )[0]
    assert with_bottle > 0.5
    assert with_bottle > 8 * base


def test_laptop_buyers_later_buy_camera_or_home_theatre(duck):
    later, base, buyers = rows(
        duck,
        """WITH o AS (SELECT order_id, customer_id, min(placed_at) AS t, list(sku) AS skus
                      FROM l WHERE kind = 'order' AND customer_id IS NOT NULL GROUP BY 1, 2),
                laptop AS (SELECT customer_id, min(t) AS t FROM o
                           WHERE list_contains(skus, ?) GROUP BY 1),
                av AS (SELECT customer_id, t, skus FROM o WHERE list_has_any(skus, ?)
                       AND NOT list_contains(skus, ?))
           SELECT
             (SELECT count(DISTINCT av.customer_id) FROM laptop
              JOIN av ON av.customer_id = laptop.customer_id
                     AND av.t BETWEEN laptop.t + INTERVAL 14 DAY AND laptop.t + INTERVAL 121 DAY)
               / (SELECT count(*) FROM laptop),
             (SELECT count(DISTINCT customer_id) FROM av
              WHERE customer_id NOT IN (SELECT customer_id FROM laptop))
               / (SELECT count(DISTINCT customer_id) FROM o
                  WHERE customer_id NOT IN (SELECT customer_id FROM laptop)),
             (SELECT count(*) FROM laptop)""",
        [cat.LAPTOP, list(cat.LAPTOP_CHAIN_CONSEQUENTS), cat.LAPTOP],
    )[0]
    assert buyers >= 50
    assert later > 0.35
    assert later > 5 * base


def _digits(phone):
    return "".join(ch for ch in phone or "" if ch.isdigit())


def _brand(name: str) -> str | None:
    return next((b for b in cat.BRANDS if name.startswith(b + " ")), None)


def _taste_profile(store) -> tuple[float, float]:
    """(mean share of a customer's branded lines going to their three most bought brands,
    correlation of a customer's mean price position between their earlier and later half of
    lines), over webshop customers with at least 12 branded lines."""
    import numpy as np

    products = store.products
    position = {}
    for sub in set(products["category_external_id"].to_pylist()):
        rows_ = products.filter(pc.equal(products["category_external_id"], sub))
        prices = rows_["price"].to_pylist()
        order = sorted(range(len(prices)), key=lambda i: prices[i])
        for rank, i in enumerate(order):
            position[rows_["sku"][i].as_py()] = rank / max(len(prices) - 1, 1)
    skus, names = products["sku"].to_pylist(), products["name"].to_pylist()
    brand = {s: _brand(n) for s, n in zip(skus, names, strict=True)}
    lines = store.order_lines_for(MAIN_SOURCE)
    lines = lines.filter(
        pc.and_(pc.is_valid(lines["customer_id"]), pc.equal(lines["kind"], "order"))
    )
    lines = lines.sort_by("placed_at")
    by_customer = defaultdict(list)
    for c, sku in zip(lines["customer_id"].to_pylist(), lines["sku"].to_pylist(), strict=True):
        if brand.get(sku):
            by_customer[c].append(sku)
    shares, early, late = [], [], []
    for skus in by_customer.values():
        if len(skus) < 12:
            continue
        counts = sorted(
            (sum(1 for s in skus if brand[s] == b) for b in {brand[s] for s in skus}),
            reverse=True,
        )
        shares.append(sum(counts[:3]) / len(skus))
        half = len(skus) // 2
        early.append(np.mean([position[s] for s in skus[:half]]))
        late.append(np.mean([position[s] for s in skus[half:]]))
    return float(np.mean(shares)), float(np.corrcoef(early, late)[0, 1])


def test_taste_clusters_concentrate_brands_and_price_tiers():
    """Customers of a taste cluster keep to a repertoire of brands and to a price tier; without
    the clusters neither holds (same seed, same everything else)."""
    with_taste = generate_store(4000, seed=11)
    without = generate_store(4000, seed=11, taste=False)
    brands, prices = _taste_profile(with_taste)
    brands_0, prices_0 = _taste_profile(without)
    # Half of the picks go to three favourite brands (plus their share of the rest by chance).
    assert brands > 0.5 and brands - brands_0 > 0.15, (brands, brands_0)
    assert prices > 0.5 and prices_0 < 0.2, (prices, prices_0)
    taste = with_taste.truth["taste"]
    assert len(taste["clusters"]) == 4 * len(cat.PERSONAS)
    assert sum(c["customers"] for c in taste["clusters"]) == 4000
    assert all(len(c["brands"]) == 3 for c in taste["clusters"])
    assert without.truth["taste"] is None


def test_planted_products_sell_as_often_with_and_without_taste():
    """Taste reshapes what people buy inside a category, not how often the planted products
    (chain antecedents, refills, gifts) are bought."""
    with_taste = generate_store(4000, seed=11)
    without = generate_store(4000, seed=11, taste=False)

    def buyers(store, sku):
        lines = store.order_lines.filter(pc.equal(store.order_lines["sku"], sku))
        return len(set(lines["order_id"].to_pylist()))

    for sku in (cat.BABY_BOTTLE, cat.LAPTOP):
        a, b = buyers(with_taste, sku), buyers(without, sku)
        assert abs(a - b) <= 0.25 * b + 5, (sku, a, b)


def test_duplicate_identities_have_typos(store):
    pairs = store.truth["duplicates"]
    assert 0.015 * 4000 <= len(pairs) <= 0.025 * 4000
    customers = {r["external_id"]: r for r in store.customers.to_pylist()}
    marketplace = store.customers_for(DUPLICATE_SOURCE)
    assert marketplace.num_rows == len(pairs)
    differing = 0
    for pair in pairs:
        original, twin = customers[pair["customer_id"]], customers[pair["duplicate_id"]]
        assert original["source"] == MAIN_SOURCE and twin["source"] == DUPLICATE_SOURCE
        assert twin["birthday"] == original["birthday"] and twin["city"] == original["city"]
        assert {twin["first_name"], twin["last_name"]} & {
            original["first_name"],
            original["last_name"],
        }
        changed = [
            k for k in ("first_name", "last_name", "email", "phone") if twin[k] != original[k]
        ]
        differing += bool(changed)
        if pair["typos"].get("phone") == "one digit wrong":
            a, b = _digits(original["phone"]), _digits(twin["phone"])
            assert len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1
        if "email" in pair["typos"]:
            assert twin["email"] != original["email"]
    assert differing == len(pairs)
    # Some of their orders were placed on the marketplace, under the second identity.
    mp_lines = store.order_lines_for(DUPLICATE_SOURCE)
    assert mp_lines.num_rows > 0
    twins = {p["duplicate_id"] for p in pairs}
    assert set(pc.unique(mp_lines["customer_id"]).to_pylist()) <= twins
    assert all(o.startswith(("MP-", "R-MP-")) for o in mp_lines["order_id"].to_pylist())
    ws = store.order_lines_for(MAIN_SOURCE)
    assert ws.num_rows + mp_lines.num_rows == store.order_lines.num_rows


def test_review_ring_plan(duck, store):
    ring = store.truth["review_ring"]
    assert len(ring["accounts"]) >= 6 and len(ring["target_skus"]) == 3
    start = dt.datetime.fromisoformat(ring["window_start"])
    end = dt.datetime.fromisoformat(ring["window_end"])
    assert end > start
    bought = rows(
        duck,
        """SELECT DISTINCT customer_id FROM l WHERE customer_id IN (SELECT unnest(?))
           AND sku IN (SELECT unnest(?)) AND placed_at BETWEEN ? AND ?""",
        [ring["accounts"], ring["target_skus"], start, end],
    )
    assert {r[0] for r in bought} == set(ring["accounts"])
    signed_up = rows(
        duck,
        "SELECT max(signed_up_at) FROM c WHERE external_id IN (SELECT unnest(?))",
        [ring["accounts"]],
    )[0][0]
    assert signed_up < start


def test_short_history_still_works():
    small = generate_store(50, seed=1, months=3)
    assert small.order_lines.num_rows > 0
    assert small.truth["start"] == "2026-08-01"
    json.dumps(small.truth)


@pytest.mark.parametrize(("customers", "months"), [(1, 1), (3, 2), (10, 13), (37, 36)])
def test_tiny_stores_do_not_break(customers, months):
    store = generate_store(customers, seed=customers, months=months)
    assert store.customers_for(MAIN_SOURCE).num_rows == customers
    json.dumps(store.truth)


def test_end_date_moves_the_window():
    store = generate_store(100, seed=1, months=24, end=dt.date(2025, 3, 15))
    assert store.truth["start"] == "2023-03-16"
    assert pc.max(store.order_lines["placed_at"]).as_py() < dt.datetime(2025, 3, 16, tzinfo=dt.UTC)


# --- Large stores in parts --------------------------------------------------------------------


def test_a_store_within_one_part_is_exactly_generate_store():
    (only,) = generate_store_parts(300, seed=3, months=12, part_customers=300)
    whole = generate_store(300, seed=3, months=12)
    for name, table in whole.tables().items():
        assert table.equals(only.tables()[name]), name
    assert only.truth == whole.truth


def test_parts_form_one_store_with_unique_ids():
    parts = list(generate_store_parts(900, seed=5, months=12, part_customers=300))
    again = list(generate_store_parts(900, seed=5, months=12, part_customers=300))

    assert len(parts) == 3
    for a, b in zip(parts, again, strict=True):  # deterministic
        assert a.order_lines.equals(b.order_lines) and a.events.equals(b.events)
    for part in parts[1:]:  # one catalogue, one time window
        assert part.products.equals(parts[0].products)
        assert (part.truth["start"], part.truth["end"]) == (
            parts[0].truth["start"],
            parts[0].truth["end"],
        )

    def every(values) -> list:
        return [v for part in parts for v in values(part) if v is not None]

    customers = every(lambda p: p.customers["external_id"].to_pylist())
    webshop = [p.customers_for(MAIN_SOURCE) for p in parts]
    emails = [e for t in webshop for e in t["email"].to_pylist()]
    phones = [e for t in webshop for e in t["phone"].to_pylist()]
    orders = every(lambda p: pc.unique(p.order_lines["order_id"]).to_pylist())
    events = every(lambda p: p.events["external_id"].to_pylist())
    visitors = every(lambda p: pc.unique(p.events["anonymous_id"]).to_pylist())
    for name, ids in (
        ("customers", customers),
        ("emails", emails),
        ("phones", phones),
        ("orders", orders),
        ("events", events),
        ("visitors", visitors),
    ):
        assert len(ids) == len(set(ids)), name
    assert sum(len(t) for t in webshop) == 900
    # Customers are numbered on from part to part; their orders refer to them.
    assert parts[1].customers["external_id"][0].as_py() == "C0000301"
    bought = set(every(lambda p: p.order_lines["customer_id"].to_pylist()))
    assert bought <= set(customers)

    truth = merge_truth(
        [p.truth for p in parts], np.concatenate([customer_revenue(p.order_lines) for p in parts])
    )
    assert truth["customers"] == 900 and truth["parts"] == 3
    assert truth["counts"]["order_lines"] == sum(p.order_lines.num_rows for p in parts)
    assert truth["counts"]["events"] == len(events)
    assert truth["counts"]["orders"] == len(orders)
    assert len(truth["churners"]) == sum(len(p.truth["churners"]) for p in parts)
    assert len(truth["periodic_buyers"]) == sum(len(p.truth["periodic_buyers"]) for p in parts)
    assert len(truth["review_ring"]["accounts"]) == sum(
        len(p.truth["review_ring"]["accounts"]) for p in parts
    )
    whole = pa.concat_tables([p.order_lines for p in parts])
    assert truth["pareto"]["revenue_share"] == round(revenue_share_of_top(whole), 4)
    json.dumps(truth)
