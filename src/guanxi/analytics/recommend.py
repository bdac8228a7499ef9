"""Complex chains and personal recommendations (S3.15, S1.3, S3.13).

A recommendation ranks products a customer has not bought yet. Three sources, each of which
says why it put a product there:

* **similar customers** — collaborative filtering over purchases and product views
  (implicit feedback). Two models are implemented on the same customer × product matrix:
  an item-item model (cosine similarity between products' buyer vectors, the ``k`` nearest
  neighbours kept) and ALS matrix factorisation from the ``implicit`` library. Either one
  connects a laptop buyer with a camera when no single basket holds both: other laptop buyers
  bought cameras later. Which one serves is ``GUANXI_RECOMMENDER`` (default ``item_item``,
  the one that measured better; see ``bench/results/recommend.md``).
* **bought together** — the 2-item association rules of :mod:`guanxi.analytics.rules`: the sum
  of the confidences of the rules from what the customer bought to the candidate.
* **popular in your segment** — the products bought by most customers of the same occupation
  (else the same customer type), then the store's best sellers: the cold start for a customer
  with no history, and the filler when the models run out.

Excluded: products the customer already bought or returned, products out of stock or inactive.

Everything here works on numpy/scipy arrays so that the serving step, the tests and the offline
evaluation (``evaluate``) run exactly the same code.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

MODELS = ("item_item", "ease", "als")

REASON_RULE = "bought_together"
REASON_SIMILAR = "similar_customers"
REASON_SEGMENT = "popular_in_segment"
REASON_POPULAR = "popular"
REASON_DUE = "due_again"


@dataclasses.dataclass(frozen=True)
class Params:
    """Tunable numbers of the recommender (recorded in the run's parameters)."""

    model: str = "ease"
    per_customer: int = 20  # recommendations kept per customer
    view_weight: float = 0.25  # a viewed product counts this much of a purchase
    half_life_days: float = 120.0  # a purchase's weight halves every this many days
    neighbours: int = 20  # item-item: similar products kept per product
    item_alpha: float = 0.5  # item-item: 0.5 = cosine, 1 = conditional probability
    aggregate: str = "mix"  # item-item: sum, max or mix of the links from what they bought
    rule_weight: float = 0.5  # weight of the rules' confidence next to the CF score
    ease_l2: float = 200.0  # EASE: L2 penalty (λ) on the item-item weights
    als_factors: int = 48
    als_iterations: int = 15
    als_regularization: float = 0.05
    als_alpha: float = 10.0
    segment_min_buyers: int = 10  # a segment needs this many buyers to have its own list
    seed: int = 7

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Matrix:
    """A customer × product matrix with the ids of its rows and columns."""

    m: sparse.csr_matrix
    customers: np.ndarray  # row → customer id
    products: np.ndarray  # column → product id

    def row_of(self) -> dict[int, int]:
        return {int(c): i for i, c in enumerate(self.customers)}

    def col_of(self) -> dict[int, int]:
        return {int(p): i for i, p in enumerate(self.products)}


def build_matrix(
    interactions: pa.Table, customers: np.ndarray | None = None, products: np.ndarray | None = None
) -> Matrix:
    """``interactions`` (customer_id, product_id, weight) summed into a CSR matrix.

    Rows are ``customers`` / columns ``products`` when given (ids not listed are dropped), else
    the sorted distinct ids present.
    """
    cust = interactions.column("customer_id").to_numpy(zero_copy_only=False).astype(np.int64)
    prod = interactions.column("product_id").to_numpy(zero_copy_only=False).astype(np.int64)
    weight = interactions.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    customers = np.unique(cust) if customers is None else np.asarray(customers, np.int64)
    products = np.unique(prod) if products is None else np.asarray(products, np.int64)
    r = np.searchsorted(customers, cust)
    c = np.searchsorted(products, prod)
    ok = (r < len(customers)) & (c < len(products))
    ok[ok] &= (customers[r[ok]] == cust[ok]) & (products[c[ok]] == prod[ok])
    m = sparse.csr_matrix(
        (weight[ok], (r[ok], c[ok])), shape=(len(customers), len(products)), dtype=np.float64
    )
    m.sum_duplicates()
    return Matrix(m, customers, products)


class ItemItem:
    """Cosine similarity between products (their columns, binarised), ``k`` neighbours each."""

    name = "item_item"

    def __init__(self, neighbours: int = 20, alpha: float = 0.5, aggregate: str = "mix"):
        self.neighbours = neighbours
        self.alpha = alpha
        self.aggregate = aggregate
        self.sim: np.ndarray | None = None
        # The same similarities kept sparse, and each product's neighbours as (column, value).
        self._sim_csr: sparse.csr_matrix | None = None
        self._neighbour_cols: np.ndarray | None = None
        self._neighbour_sims: np.ndarray | None = None

    def fit(self, m: sparse.csr_matrix) -> ItemItem:
        b = (m > 0).astype(np.float64).tocsc()
        co = (b.T @ b).toarray()
        counts = np.diag(co).copy()
        counts[counts == 0] = 1.0
        # Asymmetric cosine: co / (n_a^alpha × n_c^(1-alpha)); 0.5 = cosine, 1 = P(c | a).
        sim = co / counts[:, None] ** self.alpha / counts[None, :] ** (1 - self.alpha)
        np.fill_diagonal(sim, 0.0)
        k = self.neighbours
        if 0 < k < sim.shape[0]:
            # Keep each product's k most similar products (its row), zero the rest.
            part = np.argpartition(-sim, k, axis=1)
            np.put_along_axis(sim, part[:, k:], 0.0, axis=1)
            cols = part[:, :k]
        else:
            cols = np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
        self.sim = sim
        self._sim_csr = sparse.csr_matrix(sim)
        self._neighbour_cols = np.ascontiguousarray(cols)
        self._neighbour_sims = np.take_along_axis(sim, cols, axis=1)
        return self

    def scores(self, rows: sparse.csr_matrix) -> np.ndarray:
        """Scores of every product for these customers' rows (dense, rows × products).

        ``sum``: Σ over the customer's products of weight × similarity; ``max``: the strongest
        single link (one recent laptop outweighs fifty unrelated purchases); ``mix``: both.
        """
        rows = sparse.csr_matrix(rows)
        # Sparse × sparse adds the same terms in the same order as sparse × dense (zeros only
        # add nothing), so the sums are bit for bit those of ``rows @ self.sim``.
        total = (rows @ self._sim_csr).toarray() if self.aggregate in ("sum", "mix") else None
        if self.aggregate == "sum":
            return total
        best = self._strongest_links(rows)
        if self.aggregate == "max":
            return best
        top = total.max(axis=1, keepdims=True)
        top[top == 0] = 1.0
        return total / top + best

    def sparse_scores(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        """:meth:`scores` as a sparse matrix: the same values where a product is linked to the
        row's products, nothing stored elsewhere (where :meth:`scores` is 0)."""
        rows = sparse.csr_matrix(rows)
        total = rows @ self._sim_csr
        total.sum_duplicates()  # canonical: columns sorted within each row
        if self.aggregate == "sum":
            return total
        r = np.repeat(np.arange(total.shape[0]), np.diff(total.indptr))
        best = self._strongest_links(rows)[r, total.indices]
        if self.aggregate == "max":
            values = best
        else:
            top = np.zeros(total.shape[0])
            filled = np.diff(total.indptr) > 0
            top[filled] = np.maximum.reduceat(total.data, total.indptr[:-1][filled])
            top[top == 0] = 1.0
            values = total.data / top[r] + best
        return sparse.csr_matrix((values, total.indices, total.indptr), shape=total.shape)

    def _strongest_links(self, rows: sparse.csr_matrix) -> np.ndarray:
        """max over each row's products i of min(weight, 1) × sim[i, :] (0 where none).

        Vectorised by the position of a product within its row: the p-th products of all rows
        touch distinct (row, column) cells, so each position is one gather-max-scatter.
        """
        width = self.sim.shape[1]
        best = np.zeros((rows.shape[0], width))
        if rows.nnz == 0:
            return best
        flat = best.reshape(-1)
        counts = np.diff(rows.indptr)
        row = np.repeat(np.arange(rows.shape[0]), counts)
        position = np.arange(rows.nnz) - np.repeat(rows.indptr[:-1], counts)
        order = np.argsort(position, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(position))])
        weight = np.minimum(rows.data, 1.0)
        for p in range(len(bounds) - 1):
            entries = order[bounds[p] : bounds[p + 1]]
            items = rows.indices[entries]
            cells = (row[entries] * width)[:, None] + self._neighbour_cols[items]
            values = self._neighbour_sims[items] * weight[entries][:, None]
            flat[cells] = np.maximum(flat[cells], values)
        return best

    def link(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        return rows


class EASE:
    """EASE, a linear item-item model fitted in closed form (Steck, "Embarrassingly Shallow
    Autoencoders for Sparse Data", WWW 2019): the weights ``W`` that best rebuild each
    customer's purchases from their other purchases, ``min ‖X − XW‖² + λ‖W‖²`` with
    ``diag(W) = 0``, are ``W = −P / diag(P)`` (diagonal zeroed) with ``P = (XᵀX + λI)⁻¹``.

    Unlike a neighbourhood model it learns how much each product says given the others (a
    best seller bought by everyone says little), so it keeps what the customer's whole
    basket history has in common. ``sim`` (cosine, as :class:`ItemItem`) still explains a pick
    ("customers who bought X also bought it") and lists related products.
    """

    name = "ease"

    def __init__(self, l2: float = 200.0, neighbours: int = 20):
        self.l2 = l2
        self.neighbours = neighbours
        self.weights: np.ndarray | None = None
        self.sim: np.ndarray | None = None

    def fit(self, m: sparse.csr_matrix) -> EASE:
        b = (m > 0).astype(np.float64).tocsc()
        gram = (b.T @ b).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        w = -p / np.diag(p)[None, :]
        np.fill_diagonal(w, 0.0)
        # Scored in float32: ranking millions of customers is bound by memory traffic, and
        # single precision leaves the top 20 of each customer as they were (tested).
        self.weights = w.astype(np.float32)
        self.sim = ItemItem(self.neighbours).fit(m).sim
        return self

    def scores(self, rows: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(rows.astype(np.float32) @ self.weights)


class ALS:
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008) from the ``implicit`` library."""

    name = "als"

    def __init__(self, params: Params):
        self.params = params
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None
        self.sim: np.ndarray | None = None

    def fit(self, m: sparse.csr_matrix) -> ALS:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        threads = int(os.environ.get("GUANXI_RECOMMENDER_THREADS", "2"))
        model = AlternatingLeastSquares(
            factors=p.als_factors,
            iterations=p.als_iterations,
            regularization=p.als_regularization,
            alpha=p.als_alpha,
            random_state=p.seed,
            num_threads=threads,
        )
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, not BLAS's
            model.fit(m.astype(np.float32).tocsr(), show_progress=False)
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)
        # Products' similarity in factor space, for the "because you bought" explanation.
        f = self.item_factors / np.maximum(
            np.linalg.norm(self.item_factors, axis=1, keepdims=True), 1e-12
        )
        self.sim = np.clip(f @ f.T, 0, None)
        np.fill_diagonal(self.sim, 0.0)
        return self

    def scores_for(self, row_ids: np.ndarray) -> np.ndarray:
        return self.user_factors[row_ids] @ self.item_factors.T


def make_model(params: Params):
    if params.model == "als":
        return ALS(params)
    if params.model == "item_item":
        return ItemItem(params.neighbours, params.item_alpha, params.aggregate)
    if params.model == "ease":
        return EASE(params.ease_l2, params.neighbours)
    raise ValueError(f"unknown recommender model {params.model!r}; use one of {MODELS}")


def rule_matrix(rules: pa.Table, products: np.ndarray) -> sparse.csr_matrix:
    """Product rules (antecedent, consequent, confidence) as a products × products matrix."""
    n = len(products)
    if rules is None or rules.num_rows == 0:
        return sparse.csr_matrix((n, n))
    a = rules.column("antecedent").to_numpy(zero_copy_only=False).astype(np.int64)
    c = rules.column("consequent").to_numpy(zero_copy_only=False).astype(np.int64)
    conf = rules.column("confidence").to_numpy(zero_copy_only=False).astype(np.float64)
    ia, ic = np.searchsorted(products, a), np.searchsorted(products, c)
    ok = (ia < n) & (ic < n)
    ok[ok] &= (products[ia[ok]] == a[ok]) & (products[ic[ok]] == c[ok])
    return sparse.csr_matrix((conf[ok], (ia[ok], ic[ok])), shape=(n, n))


@dataclasses.dataclass
class Ranked:
    """Top products per customer: column indices, scores, reasons and the product behind them."""

    rows: np.ndarray  # matrix row of each recommendation
    cols: np.ndarray  # product column
    rank: np.ndarray  # 1-based within the customer
    score: np.ndarray
    by_rule: np.ndarray  # True: "bought together" (the rules), False: "similar customers"
    because: np.ndarray  # column of the bought product that led here, -1 when none
    strength: np.ndarray  # the rule's confidence or the products' similarity

    @property
    def reason(self) -> list[str]:
        return np.where(self.by_rule, REASON_RULE, REASON_SIMILAR).tolist()


def rank(
    model,
    matrix: Matrix,
    *,
    rules: sparse.csr_matrix | None,
    excluded: sparse.csr_matrix,
    available: np.ndarray,
    n: int,
    rule_weight: float = 0.5,
    row_ids: np.ndarray | None = None,
    chunk: int = 4096,
    purchases: sparse.csr_matrix | None = None,
) -> Ranked:
    """The ``n`` best products per customer row (fewer when the models have no more).

    score = CF score / the customer's best CF score + ``rule_weight`` × Σ confidence of the rules
    from the customer's purchases. ``excluded`` (rows × products, nonzero = excluded: bought,
    returned) and ``available`` (products, False = out of stock or inactive) filter candidates.
    ``purchases`` (same shape; default: the matrix itself) is what the rules and the "because
    you bought" explanation start from — views count for the CF score only.
    """
    m = matrix.m
    row_ids = np.arange(m.shape[0]) if row_ids is None else np.asarray(row_ids)
    bought = ((m if purchases is None else purchases) > 0).astype(np.float64).tocsr()
    names = ("rows", "cols", "rank", "score", "by_rule", "because", "strength")
    out: dict[str, list] = {k: [] for k in names}
    for start in range(0, len(row_ids), chunk):
        ids = row_ids[start : start + chunk]
        rows = m[ids]
        if isinstance(model, ItemItem):
            # Only linked products can score: work on those entries, not the whole catalogue.
            r_local, cols, pos, scores, by_rule = _rank_linked(
                model.sparse_scores(rows),
                None if rules is None else bought[ids] @ rules,
                excluded[ids],
                available,
                n,
                rule_weight,
            )
            because, strength = _because(
                bought[ids], model.sim, rules, r_local, cols, by_rule, rule_weight
            )
            out["rows"].append(ids[r_local])
            out["cols"].append(cols)
            out["rank"].append(pos + 1)
            out["score"].append(scores)
            out["by_rule"].append(by_rule)
            out["because"].append(because)
            out["strength"].append(strength)
            continue
        # One dense rows × products array, worked on in place (float32 from EASE and ALS): at
        # 885 K customers and 4 K products every extra pass over it costs seconds. The rules
        # and the exclusions are sparse: added and zeroed entry by entry.
        total = model.scores_for(ids) if isinstance(model, ALS) else model.scores(rows)
        np.clip(total, 0, None, out=total)
        best = total.max(axis=1, keepdims=True)
        best[best == 0] = 1.0
        total /= best  # the CF score, 1 for the customer's best
        rule = None
        if rules is not None:
            rule = (bought[ids] @ rules).tocsr()
            rule.sum_duplicates()
            coo = rule.tocoo()
            total[coo.row, coo.col] += rule_weight * coo.data
        gone = excluded[ids].tocoo()
        total[gone.row[gone.data != 0], gone.col[gone.data != 0]] = 0
        total[:, ~available] = 0
        k = min(n, total.shape[1])
        if k == 0:
            continue
        top = np.argpartition(-total, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(total, top, axis=1)
        del total
        order = np.lexsort((top, -top_scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        keep = top_scores > 0
        r_local, pos = np.nonzero(keep)
        cols = top[r_local, pos]
        picked = top_scores[r_local, pos].astype(np.float64)
        from_rules = np.zeros(len(cols))
        if rule is not None and rule.nnz:
            from_rules = rule_weight * np.asarray(rule[r_local, cols], np.float64).ravel()
        by_rule = from_rules >= picked - from_rules  # the rules' part ≥ the CF part
        because, strength = _because(
            bought[ids], model.sim, rules, r_local, cols, by_rule, rule_weight
        )
        out["rows"].append(ids[r_local])
        out["cols"].append(cols)
        out["rank"].append(pos + 1)
        out["score"].append(picked)
        out["by_rule"].append(by_rule)
        out["because"].append(because)
        out["strength"].append(strength)

    def cat(name, dtype):
        if not out[name]:
            return np.zeros(0, dtype)
        return np.concatenate(out[name]).astype(dtype, copy=False)

    return Ranked(
        rows=cat("rows", np.int64),
        cols=cat("cols", np.int64),
        rank=cat("rank", np.int64),
        score=cat("score", np.float64),
        by_rule=cat("by_rule", bool),
        because=cat("because", np.int64),
        strength=cat("strength", np.float64),
    )


def _entries(m: sparse.csr_matrix, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(row × width + column, value) of each stored entry of canonical ``m``."""
    r = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return r * width + m.indices, m.data


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two sorted arrays of distinct values (a merge, not a sort)."""
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    at = np.searchsorted(a, b)
    new = (at == len(a)) | (a[np.minimum(at, len(a) - 1)] != b)
    return np.insert(a, at[new], b[new])


def _in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set``, by binary search."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _rank_linked(
    cf: sparse.csr_matrix,
    rule: sparse.csr_matrix | None,
    excluded: sparse.csr_matrix,
    available: np.ndarray,
    n: int,
    rule_weight: float,
):
    """:func:`rank`'s scoring and top ``n`` for one chunk of rows, on the stored entries of
    the CF scores and the rule sums only (every other product scores 0 and is never kept).

    The same arithmetic as the dense version: CF / the row's best CF + ``rule_weight`` × rules,
    excluded and unavailable products dropped, best first, ties by product column.
    Returns (row, column, 0-based position, score, by_rule) per recommendation.
    """
    width = cf.shape[1]
    cf = sparse.csr_matrix(cf)
    cf.sum_duplicates()
    cf.data = np.clip(cf.data, 0, None)
    best = np.zeros(cf.shape[0])
    filled = np.diff(cf.indptr) > 0
    if filled.any():
        best[filled] = np.maximum.reduceat(cf.data, cf.indptr[:-1][filled])
    best[best == 0] = 1.0
    cf_keys, cf_values = _entries(cf, width)
    cf_values = cf_values / best[cf_keys // width]
    if rule is not None:
        rule = sparse.csr_matrix(rule)
        rule.sum_duplicates()
        rule_keys, rule_values = _entries(rule, width)
    else:
        rule_keys, rule_values = np.zeros(0, np.int64), np.zeros(0)
    keys = _union_sorted(cf_keys, rule_keys)
    cf_all = np.zeros(len(keys))
    cf_all[np.searchsorted(keys, cf_keys)] = cf_values
    rule_all = np.zeros(len(keys))
    rule_all[np.searchsorted(keys, rule_keys)] = rule_values
    total = cf_all + rule_weight * rule_all
    excluded = sparse.csr_matrix(excluded)
    excluded.eliminate_zeros()
    excluded.sum_duplicates()
    ex_keys, _ = _entries(excluded, width)
    keep = (total > 0) & available[keys % width] & ~_in_sorted(keys, ex_keys)
    keys, total = keys[keep], total[keep]
    cf_all, rule_all = cf_all[keep], rule_all[keep]
    rows = keys // width
    # Best first within each row; keys are sorted, so equal scores stay in column order.
    order = np.argsort(-total, kind="stable")
    # Rows of a chunk fit in 16 bits: numpy sorts those stably by radix, in linear time.
    small = np.int16 if cf.shape[0] <= np.iinfo(np.int16).max else np.int64
    order = order[np.argsort(rows[order].astype(small), kind="stable")]
    ranked_rows = rows[order]
    pos = np.arange(len(order)) - np.searchsorted(ranked_rows, ranked_rows, side="left")
    kept = pos < n
    top = order[kept]
    by_rule = rule_weight * rule_all[top] >= cf_all[top]
    return rows[top], keys[top] % width, pos[kept], total[top], by_rule


def _because(bought, sim, rules, r_local, cols, by_rule, rule_weight):
    """For each (row, product): the bought product with the strongest link to it (the first
    such product when several tie), and that link's strength; -1 and 0 when none links."""
    because = np.full(len(cols), -1, np.int64)
    strength = np.zeros(len(cols))
    bought = sparse.csr_matrix(bought)
    counts = np.diff(bought.indptr)[r_local]
    use_rules = by_rule & (rules is not None)
    use_sim = ~use_rules if sim is not None else np.zeros(len(cols), bool)
    has = (counts > 0) & (use_rules | use_sim)
    if not has.any():
        return because, strength
    which = np.flatnonzero(has)
    counts = counts[which]
    # One entry per (recommendation, product the customer bought), grouped by recommendation.
    group = np.repeat(np.arange(len(which)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    offset = np.arange(counts.sum()) - np.repeat(starts, counts)
    items = bought.indices[np.repeat(bought.indptr[r_local[which]], counts) + offset]
    target = cols[which][group]
    links = np.zeros(len(items))
    ruled = use_rules[which][group]
    if ruled.any():
        links[ruled] = np.asarray(sparse.csr_matrix(rules)[items[ruled], target[ruled]]).ravel()
    if (~ruled).any():
        links[~ruled] = sim[items[~ruled], target[~ruled]]
    best = np.maximum.reduceat(links, starts)
    # First entry of each group reaching its maximum (np.argmax's choice).
    position = np.where(links == np.repeat(best, counts), np.arange(len(links)), len(links))
    first = np.minimum.reduceat(position, starts)
    found = best > 0
    because[which[found]] = items[first[found]]
    strength[which[found]] = best[found]
    return because, strength


def popular(
    matrix: Matrix, groups: np.ndarray | None = None, n: int = 20, min_buyers: int = 20
) -> dict:
    """Best sellers (distinct buyers) overall (key None) and per group label of each row.

    Returns ``{group: (columns, buyers, group_buyers)}``; groups with fewer than ``min_buyers``
    buyers are left out (their customers get the overall list).
    """
    b = (matrix.m > 0).astype(np.int64).tocsr()
    buys = np.diff(b.indptr) > 0  # rows with a purchase (b stores ones only)
    result = {}

    def top(counts: np.ndarray, buyers: int) -> tuple[np.ndarray, np.ndarray, int]:
        order = np.lexsort((np.arange(len(counts)), -counts))[:n]
        order = order[counts[order] > 0]
        return order, counts[order], buyers

    result[None] = top(np.asarray(b.sum(axis=0)).ravel(), int(buys.sum()))
    if groups is not None and len(groups):
        labels, code = np.unique(groups, return_inverse=True)
        code = code.ravel()
        # Every group's counts at once: a (groups × rows) indicator times the purchases.
        member = sparse.csr_matrix(
            (np.ones(len(code), np.int64), (code, np.arange(len(code)))),
            shape=(len(labels), b.shape[0]),
        )
        counts = (member @ b).toarray()
        buyers = np.bincount(code[buys], minlength=len(labels))
        for i, g in enumerate(labels):
            if g is None or g == "" or buyers[i] < min_buyers:
                continue
            result[g] = top(counts[i], int(buyers[i]))
    return result


# -- offline evaluation ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Quality:
    method: str
    customers: int  # evaluated: bought something new in the test window
    recall: float
    precision: float
    hit_rate: float


def evaluate(
    train: pa.Table,
    test: pa.Table,
    *,
    k: int = 10,
    params: Params | None = None,
    rules=None,
    models: dict[str, Params] | None = None,
) -> list[Quality]:
    """recall@k / precision@k on a time split: fit on ``train`` (customer_id, product_id,
    weight; weight 1 = purchase), score against the products each customer bought in ``test``
    that they had not bought in ``train``. Methods: most popular (baseline), then each of
    ``models`` (label → parameters; default: every model of :data:`MODELS` with ``params``),
    alone and blended with ``rules`` (the served ranking)."""
    params = params or Params()
    matrix = build_matrix(train)
    test_m = build_matrix(test, matrix.customers, matrix.products).m
    bought = (matrix.m > 0).astype(np.float64)
    wanted = ((test_m > 0).astype(np.int8) - bought.multiply(test_m > 0).astype(np.int8)).tocsr()
    wanted.eliminate_zeros()
    users = np.nonzero(np.diff(wanted.indptr) > 0)[0]
    purchases_only = sparse.csr_matrix(bought)
    available = np.ones(len(matrix.products), bool)
    rmat = None if rules is None else rule_matrix(rules, matrix.products)
    results = []

    def score(method: str, cols_per_user: list[np.ndarray]):
        hits = np.array(
            [
                len(np.intersect1d(cols, wanted.indices[wanted.indptr[u] : wanted.indptr[u + 1]]))
                for u, cols in zip(users, cols_per_user, strict=True)
            ]
        )
        sizes = np.diff(wanted.indptr)[users]
        results.append(
            Quality(
                method=method,
                customers=len(users),
                recall=float(np.mean(hits / sizes)),
                precision=float(np.mean(hits / k)),
                hit_rate=float(np.mean(hits > 0)),
            )
        )

    pop_cols, _, _ = popular(Matrix(purchases_only, matrix.customers, matrix.products), n=k * 50)[
        None
    ]
    per_user = []
    for u in users:
        own = set(purchases_only.indices[purchases_only.indptr[u] : purchases_only.indptr[u + 1]])
        per_user.append(np.array([c for c in pop_cols if c not in own][:k]))
    score("most popular", per_user)

    if models is None:
        models = {name: dataclasses.replace(params, model=name) for name in MODELS}
    for name, model_params in models.items():
        model = make_model(model_params).fit(matrix.m)
        for label, rm in ((name, None), (f"{name} + rules", rmat)):
            if label.endswith("rules") and rm is None:
                continue
            ranked = rank(
                model,
                matrix,
                rules=rm,
                excluded=purchases_only,
                available=available,
                n=k,
                rule_weight=model_params.rule_weight,
                row_ids=users,
            )
            per_user = _split(ranked, users)
            score(label, per_user)
    return results


def _split(ranked: Ranked, users: np.ndarray) -> list[np.ndarray]:
    out = {int(u): [] for u in users}
    for r, c in zip(ranked.rows.tolist(), ranked.cols.tolist(), strict=True):
        out[r].append(c)
    return [np.array(out[int(u)], dtype=np.int64) for u in users]


def interactions_from_lines(
    lines: pa.Table,
    *,
    customer="customer_id",
    product="product_id",
    weight: float = 1.0,
    time: str | None = None,
    as_of=None,
    half_life_days: float | None = None,
) -> pa.Table:
    """(customer_id, product_id, weight) from purchase lines (any column names).

    With ``time``, ``as_of`` and ``half_life_days``, a line's weight halves every
    ``half_life_days`` before ``as_of``: recent purchases say more about what comes next.
    """
    names = [customer, product] + ([time] if time else [])
    t = lines.select(names)
    t = t.filter(pc.and_(pc.is_valid(t.column(0)), pc.is_valid(t.column(1))))
    w = np.full(t.num_rows, weight, np.float64)
    if time and as_of is not None and half_life_days:
        when = t.column(time).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
        now = pa.scalar(as_of, pa.timestamp("us", tz="UTC")).cast(pa.int64()).as_py()
        age_days = np.maximum(now - when, 0) / 86_400e6
        w = w * 0.5 ** (age_days / half_life_days)
    out = pa.table({"customer_id": t.column(0), "product_id": t.column(1)})
    return out.append_column("weight", pa.array(w, pa.float64()))


__all__ = [
    "ALS",
    "EASE",
    "MODELS",
    "ItemItem",
    "Matrix",
    "Params",
    "Quality",
    "Ranked",
    "build_matrix",
    "evaluate",
    "interactions_from_lines",
    "make_model",
    "popular",
    "rank",
    "rule_matrix",
]
