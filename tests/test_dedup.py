"""`rfactory dedup` on planted duplicates: exact and normalized copies, near-duplicate clusters,
and the look-alikes that must survive (shared phrasing, changed numbers)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import json_out, run_cli, write_jsonl

BASE = [
    "Let ABC be a triangle with AB = 5, BC = 6 and CA = 7. Find the area of the triangle.",
    "A bag holds 4 red and 6 blue marbles. Two are drawn without replacement. What is the probability both are red?",
    "Find all real numbers x such that x squared minus five x plus six equals zero, and justify each step.",
    "How many positive divisors does 360 have?",
]
# Same template, different content: never duplicates of each other.
LOOKALIKES = [f"Find the value of x such that {a}x + {b} = {c}." for a, b, c in [(2, 3, 7), (5, -1, 9), (3, 4, 10)]] + [
    "Let ABC be a triangle with AB = 5, BC = 6 and CA = 8. Find the area of the triangle.",  # one number changed
    "How many positive divisors does 720 have?",
]


def rows() -> list[dict]:
    out = [{"id": f"b{i}", "problem": p, "answer": str(i)} for i, p in enumerate(BASE)]
    out += [{"id": f"l{i}", "problem": p, "answer": "x"} for i, p in enumerate(LOOKALIKES)]
    out += [
        {"id": "exact", "problem": BASE[3], "answer": "24"},
        {"id": "case-space", "problem": "how  many POSITIVE divisors\tdoes 360 have ?", "answer": "24"},
        {"id": "near-1", "problem": BASE[0].replace("Find the area", "Compute the area"), "answer": "a"},
        {"id": "near-2", "problem": BASE[0].replace("the triangle.", "triangle ABC."), "answer": "a"},
        {"id": "near-3", "problem": BASE[2].replace("each step", "every step"), "answer": "b"},
    ]
    return out


def test_copies_and_near_copies_go_and_look_alikes_stay(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", rows())
    summary = json_out(run_cli("dedup", "p.jsonl", "--out", "clean.jsonl", "--json", cwd=tmp_path))
    kept = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert [r["id"] for r in kept] == [r["id"] for r in rows()][: len(BASE) + len(LOOKALIKES)]
    assert kept == rows()[: len(BASE) + len(LOOKALIKES)]  # rows come out unchanged, in order
    report = {r["row"]: r for r in map(json.loads, (tmp_path / "clean.dedup.jsonl").read_text().splitlines())}
    n = len(BASE) + len(LOOKALIKES)
    assert {row: (r["reason"], r["duplicate_of"]) for row, r in report.items()} == {
        n: ("exact", 3), n + 1: ("exact", 3), n + 2: ("near", 0), n + 3: ("near", 0), n + 4: ("near", 2)}
    assert all(0.8 <= r["similarity"] <= 1.0 for r in report.values())
    assert summary | {"out": None, "report": None} == {
        "rows": n + 5, "kept": n, "exact": 2, "near": 3, "out": None, "report": None}


def test_exact_only_keeps_near_copies_and_parquet_keeps_every_column(tmp_path):
    table = pa.Table.from_pylist([r | {"extra": len(r["problem"])} for r in rows()])
    pq.write_table(table, tmp_path / "p.parquet")
    summary = json_out(run_cli("dedup", "p.parquet", "--out", "clean.jsonl", "--exact-only", "--json", cwd=tmp_path))
    assert (summary["exact"], summary["near"], summary["kept"]) == (2, 0, len(rows()) - 2)
    first = json.loads((tmp_path / "clean.jsonl").read_text().splitlines()[0])
    assert first == rows()[0] | {"extra": len(rows()[0]["problem"])}


def test_a_row_without_the_column_is_a_one_line_error_and_writes_nothing(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", [{"problem": "a"}, {"question": "b"}])
    result = run_cli("dedup", "p.jsonl", "--out", "clean.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: p.jsonl: row 1: field 'problem': missing or not text"
    assert not (tmp_path / "clean.jsonl").exists() and not list(tmp_path.glob(".*tmp"))


def test_a_near_duplicate_cluster_keeps_exactly_one_member(tmp_path):
    base = ("A farmer has 120 meters of fencing and wants to enclose a rectangular field along a straight river, "
            "fencing only three sides. What is the largest area he can enclose?")
    edits = [("A farmer", "A rancher"), ("wants to", "would like to"), ("straight river", "straight canal"),
             ("What is the largest", "Find the largest"), ("can enclose?", "can fence in?")]
    cluster = [base] + [base.replace(a, b) for a, b in edits]
    write_jsonl(tmp_path / "p.jsonl", [{"problem": p} for p in [BASE[1], *cluster, BASE[2]]])
    summary = json_out(run_cli("dedup", "p.jsonl", "--out", "clean.jsonl", "--json", cwd=tmp_path))
    kept = [json.loads(line)["problem"] for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert kept == [BASE[1], base, BASE[2]]
    report = [json.loads(line) for line in (tmp_path / "clean.dedup.jsonl").read_text().splitlines()]
    assert [(r["row"], r["reason"], r["duplicate_of"]) for r in report] == [(i, "near", 1) for i in range(2, 7)]
    assert (summary["kept"], summary["near"]) == (3, 5)


def test_the_band_index_finds_exactly_the_items_sharing_a_band_across_merges():
    import numpy as np

    from rfactory.curate.lsh import BandIndex

    rng = np.random.default_rng(0)
    index = BandIndex(num_perm=16, bands=4, batch=50)  # 240 items: four merges, then some pending
    digests = rng.integers(0, 3, size=(240, 16)).tolist()  # few values: bands collide often
    for slot, d in enumerate(digests):
        index.insert(index.band_hashes(d), slot)
    assert len(index.keys) == 200 * 4 and index.pending_items == 40
    for probe in rng.integers(0, 3, size=(60, 16)).tolist() + digests[:20]:
        expected = {s for s, d in enumerate(digests) if any(d[b * 4:b * 4 + 4] == probe[b * 4:b * 4 + 4] for b in range(4))}
        assert index.query(index.band_hashes(probe)) == expected
