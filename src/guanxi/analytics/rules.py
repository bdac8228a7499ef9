"""Simple chains (S3.15): 2-item association rules "who buys A also buys B" over baskets.

Written once as an Ibis expression, so the same code runs on DuckDB (the default engine) and on
PySpark with identical output. The numbers are defined as in mlxtend's ``fpgrowth`` +
``association_rules`` (and the tests check they are equal to mlxtend's on real baskets):

* a basket is the set of distinct items in it (a line repeated, or a quantity of 3, counts once);
* ``support(X)`` = baskets holding X / all baskets; an item or pair is frequent when its support
  is at least ``min_support`` (and its count at least ⌈min_support × baskets⌉, as mlxtend's
  FP-growth counts it);
* for each frequent pair {A, C} both rules A → C and C → A are emitted, with
  ``confidence`` = support(A, C) / support(A) and ``lift`` = confidence / support(C), keeping
  those with confidence ≥ ``min_confidence``.

Only pairs of frequent items can be frequent, so the self-join that counts pairs is restricted to
frequent items first: that is what makes it fast (one hash join and one aggregation), where
mlxtend one-hot encodes every basket and walks an FP-tree in Python.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

OUTPUT_COLUMNS = (
    "antecedent",
    "consequent",
    "support",
    "confidence",
    "lift",
    "pair_count",
    "antecedent_count",
    "consequent_count",
    "baskets",
)


def association_rules(
    table: ir.Table,
    *,
    basket: str = "basket",
    item: str = "item",
    min_support: float = 0.01,
    min_confidence: float = 0.0,
) -> ir.Table:
    """Every 2-item rule A → C of the baskets in ``table`` (columns ``basket`` and ``item``).

    Returns the columns of :data:`OUTPUT_COLUMNS`: ``antecedent`` and ``consequent`` (items, of
    the item column's type), ``support`` (of the pair), ``confidence``, ``lift``, the counts
    behind them (baskets holding both, the antecedent, the consequent) and the number of
    baskets. Rows with a null basket or item are ignored. Unordered: sort the result yourself.
    """
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    ms = ibis.literal(float(min_support), type="float64")
    mc = ibis.literal(float(min_confidence), type="float64")

    lines = table.select(b=table[basket], i=table[item])
    lines = lines.filter(lines.b.notnull() & lines.i.notnull()).distinct()
    total = lines.aggregate(n=lines.b.nunique())

    counts = lines.group_by("i").aggregate(c=lines.b.count()).cross_join(total)
    n = counts.n.cast("float64")
    min_count = (ms * n).ceil()
    frequent = counts.filter((counts.c.cast("float64") / n >= ms) & (counts.c >= min_count))
    frequent = frequent.select("i", "c", "n")

    kept = lines.join(frequent.select("i"), "i", how="semi")
    left = kept.rename(ba="b", ia="i")
    right = kept.view().rename(bc="b", ic="i")
    joined = left.join(right, (left.ba == right.bc) & (left.ia < right.ic))
    pairs = joined.group_by(["ia", "ic"]).aggregate(pc=joined.ba.count())

    fa = frequent.rename(ia="i", ca="c", na="n")
    fc = frequent.select(ic="i", cc="c")
    pairs = pairs.join(fa, "ia").join(fc, "ic")
    n = pairs.na.cast("float64")
    pairs = pairs.filter((pairs.pc.cast("float64") / n >= ms) & (pairs.pc >= (ms * n).ceil()))

    def direction(a: str, c: str, a_count: str, c_count: str) -> ir.Table:
        n = pairs.na.cast("float64")
        s_ac = pairs.pc.cast("float64") / n
        s_a = pairs[a_count].cast("float64") / n
        s_c = pairs[c_count].cast("float64") / n
        # Written as mlxtend writes it (support × baskets over support × baskets), so the
        # floating-point results are bit for bit the same.
        confidence = (s_ac * n) / (s_a * n)
        return pairs.select(
            antecedent=pairs[a],
            consequent=pairs[c],
            support=s_ac,
            confidence=confidence,
            lift=confidence / s_c,
            pair_count=pairs.pc.cast("int64"),
            antecedent_count=pairs[a_count].cast("int64"),
            consequent_count=pairs[c_count].cast("int64"),
            baskets=pairs.na.cast("int64"),
        )

    rules = direction("ia", "ic", "ca", "cc").union(direction("ic", "ia", "cc", "ca"))
    return rules.filter(rules.confidence >= mc)


def order_rules(rules: ir.Table) -> ir.Table:
    """Strongest first: by lift, then confidence, then the items (a total order)."""
    return rules.order_by([ibis.desc("lift"), ibis.desc("confidence"), "antecedent", "consequent"])


def basket_lines(order_lines: ir.Table, level: str = "product") -> ir.Table:
    """Baskets of the analytics ``order_lines`` table: one per order of kind ``order`` that is
    not cancelled, items = ``product_id`` (level "product") or ``category_id`` ("category")."""
    column = {"product": "product_id", "category": "category_id"}[level]
    t = order_lines
    t = t.filter((t.kind == "order") & (t.status != "cancelled") & (t.quantity > 0))
    return t.select(basket=t.order_id, item=t[column])


__all__ = ["OUTPUT_COLUMNS", "association_rules", "basket_lines", "order_rules"]
