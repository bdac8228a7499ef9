"""Splink identity resolution: the simulator's planted duplicates are found (and merged), the
``guanxi identity link`` command de-duplicates and links files."""

import csv

import pytest
from django.core.management import CommandError, call_command

from guanxi.customers.identity import link_frames
from guanxi.customers.models import CustomerMerge, MatchCandidate, SourceIdentity
from guanxi.customers.resolution import resolve_identities
from guanxi.simulate.generator import generate_store
from guanxi.simulate.services import load_store


@pytest.fixture(scope="module")
def sim():
    return generate_store(1500, seed=21)


def planted_pairs(sim):
    return {(d["customer_id"], d["duplicate_id"]) for d in sim.truth["duplicates"]}


def test_splink_finds_the_planted_duplicates_in_the_simulator_tables(sim):
    customers = sim.customers.to_pandas()
    customers = customers.rename(columns={"region": "state"})
    result = link_frames([customers], id_column="external_id", threshold=0.99)
    found = {
        tuple(sorted((a, b), key=lambda x: x.startswith("MPU")))
        for a, b in zip(result.pairs.id_l, result.pairs.id_r, strict=True)
    }
    truth = planted_pairs(sim)
    true_positives = len(found & truth)
    assert len(truth) >= 25
    assert true_positives / len(truth) >= 0.9, (true_positives, len(truth))
    assert true_positives / max(len(found), 1) >= 0.95, (true_positives, len(found))


@pytest.mark.django_db
def test_resolution_merges_planted_duplicates_in_the_database(sim):
    load_store(sim, progress=False)
    ids = dict(SourceIdentity.objects.values_list("external_id", "customer_id"))
    result = resolve_identities()
    assert result.auto_merged > 0
    assert MatchCandidate.objects.filter(status="pending").count() == result.queued
    truth = {(ids[a], ids[b]) for a, b in planted_pairs(sim)}
    merged = {
        (m.winner_id, m.loser_id) for m in CustomerMerge.objects.filter(undone_at__isnull=True)
    }
    merged_sorted = {tuple(sorted(p)) for p in merged}
    truth_sorted = {tuple(sorted(p)) for p in truth}
    correct = len(merged_sorted & truth_sorted)
    assert correct / len(truth_sorted) >= 0.85, (correct, len(truth_sorted), result)
    assert correct / len(merged_sorted) >= 0.95, (correct, len(merged_sorted))
    # The review band holds the uncertain rest; a second run decides nothing twice.
    again = resolve_identities()
    assert again.auto_merged == 0
    assert MatchCandidate.objects.filter(status="auto_merged").count() == len(merged)


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_link_command_dedupes_one_file_and_links_two(sim, tmp_path):
    table = sim.customers.to_pandas()
    fields = ["first_name", "last_name", "email", "phone", "birthday", "city", "postcode"]
    main = table[table.source == "webshop"]
    market = table[table.source == "marketplace"]
    a, b, both = tmp_path / "a.csv", tmp_path / "b.parquet", tmp_path / "both.csv"
    write_csv(a, main[["external_id", *fields]].to_dict("records"), ["external_id", *fields])
    market[["external_id", *fields]].astype(str).to_parquet(b)  # a Parquet file works too
    write_csv(both, table[["external_id", *fields]].to_dict("records"), ["external_id", *fields])
    truth = planted_pairs(sim)

    out = tmp_path / "links.csv"
    call_command(
        "identity", "link", str(a), str(b), "--id-column", "external_id", "--out", str(out)
    )
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id_l", "id_r", "match_probability"]
    found = {(r["id_l"], r["id_r"]) for r in rows}
    assert all(float(r["match_probability"]) >= 0.99 for r in rows)
    assert len(found & truth) / len(truth) >= 0.9
    assert len(found & truth) / len(found) >= 0.95

    out2 = tmp_path / "dedup.csv"
    call_command("identity", "link", str(both), "--id-column", "external_id", "--out", str(out2))
    with open(out2) as fh:
        pairs = {tuple(sorted((r["id_l"], r["id_r"]))) for r in csv.DictReader(fh)}
    assert len(pairs & {tuple(sorted(p)) for p in truth}) / len(truth) >= 0.9


def test_link_command_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    write_csv(
        bad, [{"id": "1", "first_name": "a"}, {"id": "1", "first_name": "b"}], ["id", "first_name"]
    )
    with pytest.raises(CommandError, match="row 3, field 'id', value '1': duplicate id"):
        call_command("identity", "link", str(bad), "--id-column", "id", "--out", "x.csv")
    with pytest.raises(CommandError, match="no id column 'key'"):
        call_command("identity", "link", str(bad), "--id-column", "key", "--out", "x.csv")
    odd = tmp_path / "odd.csv"
    write_csv(odd, [{"id": "1", "colour": "red"}], ["id", "colour"])
    with pytest.raises(CommandError, match="no profile field"):
        call_command("identity", "link", str(odd), "--id-column", "id", "--out", "x.csv")
