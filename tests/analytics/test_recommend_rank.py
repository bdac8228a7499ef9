"""The fast ranking (EASE weights in float32, the rules and exclusions applied as sparse
entries, in place) against the plain float64 formula of ``recommend.rank``'s docstring."""

import numpy as np
from scipy import sparse

from guanxi.analytics import recommend


def _reference(weights, m, rules, excluded, available, n, rule_weight):
    """Top-``n`` (column, score, by rule) per row, every step dense and in float64."""
    cf = np.clip(np.asarray(m @ weights), 0, None)
    best = cf.max(axis=1, keepdims=True)
    best[best == 0] = 1.0
    cf = cf / best
    bought = (m > 0).astype(np.float64)
    rule = np.asarray((bought @ rules).todense())
    total = cf + rule_weight * rule
    total[excluded.toarray() > 0] = 0
    total[:, ~available] = 0
    out = []
    for r in range(total.shape[0]):
        order = sorted(range(total.shape[1]), key=lambda c: (-total[r, c], c))[:n]
        out.append(
            [
                (c, total[r, c], rule_weight * rule[r, c] >= cf[r, c])
                for c in order
                if total[r, c] > 0
            ]
        )
    return out


def test_fast_ranking_matches_the_float64_formula():
    rng = np.random.default_rng(3)
    customers, products = 600, 150
    # Customers buy within one of five groups of products, so that EASE learns real links.
    group = rng.integers(0, 5, customers)
    rows, cols = [], []
    for c in range(customers):
        pool = np.arange(group[c] * 30, group[c] * 30 + 30)
        picks = rng.choice(pool, rng.integers(1, 8), replace=False)
        rows += [c] * len(picks)
        cols += picks.tolist()
    m = sparse.csr_matrix(
        (rng.uniform(0.2, 1.0, len(rows)), (rows, cols)), shape=(customers, products)
    )
    m.sum_duplicates()
    rules = sparse.csr_matrix(
        (rng.uniform(0.1, 0.9, 40), (rng.integers(0, products, 40), rng.integers(0, products, 40))),
        shape=(products, products),
    )
    rules.sum_duplicates()
    excluded = (m > 0) + sparse.random(customers, products, density=0.02, random_state=4) > 0
    excluded = excluded.astype(np.float64).tocsr()
    available = rng.random(products) > 0.1
    model = recommend.EASE(l2=20.0).fit(m)
    assert model.weights.dtype == np.float32

    ranked = recommend.rank(
        model,
        recommend.Matrix(m, np.arange(customers), np.arange(products)),
        rules=rules,
        excluded=excluded,
        available=available,
        n=10,
        rule_weight=0.5,
        chunk=128,  # several chunks
    )
    expected = _reference(model.weights.astype(np.float64), m, rules, excluded, available, 10, 0.5)
    differing = 0
    for r in range(customers):
        mine = ranked.rows == r
        got = list(zip(ranked.cols[mine], ranked.score[mine], ranked.by_rule[mine], strict=True))
        want = expected[r]
        if [g[0] for g in got] != [w[0] for w in want]:
            differing += 1  # a near-tie ordered differently in single precision
            continue
        assert np.allclose([g[1] for g in got], [w[1] for w in want], rtol=1e-5, atol=1e-6)
        assert [bool(g[2]) for g in got] == [bool(w[2]) for w in want]
        assert list(ranked.rank[mine]) == list(range(1, len(got) + 1))
    assert sum(len(e) for e in expected) > 3000  # customers got full lists to compare
    assert sum(bool(x[2]) for e in expected for x in e) > 50  # and rules won some picks
    assert differing <= customers // 100
