"""Dataset shards sized the way the Hub and `datasets` read best: bounded bytes per shard and
per row group, with `data/` and `metadata/` ending each shard at the same row."""

import pyarrow.parquet as pq
from datasets import load_dataset

from rfactory.dataset import METADATA_SCHEMA, ShardWriter


def rows(n: int):
    for i in range(n):
        text = f"step {i} " * 1200  # ~10 KB of trace
        data = {"system": "sys", "conversations": [{"from": "user", "value": f"problem {i}"},
                                                   {"from": "assistant", "value": text}]}
        meta = {name: None for name in METADATA_SCHEMA.names} | {"problem": f"problem {i}", "deepseek_solution": text,
                                                                 "sample_index": 0}
        yield data, meta


def test_shards_and_row_groups_are_bounded_by_bytes_and_stay_aligned(tmp_path):
    writer = ShardWriter(tmp_path / "dataset", max_rows=10_000, max_bytes=400_000, row_group_bytes=100_000)
    for data, meta in rows(120):
        writer.add(data, meta)
    writer.close({"README.md": b"---\n---\n"})
    data_files = sorted((tmp_path / "dataset" / "data").glob("*.parquet"))
    meta_files = sorted((tmp_path / "dataset" / "metadata").glob("*.parquet"))
    assert len(data_files) == len(meta_files) > 4  # ~2.4 MB of rows under a 400 KB bound
    assert data_files[0].name == f"train-00000-of-{len(data_files):05d}.parquet"
    biggest_row = 2 * len("step 119 " * 1200) + 200  # the trace in data and again in metadata, and the rest
    for d, m in zip(data_files, meta_files):
        dfile, mfile = pq.ParquetFile(d), pq.ParquetFile(m)
        assert dfile.metadata.num_rows == mfile.metadata.num_rows
        text = sum(len(c[1]["value"]) for c in dfile.read().column("conversations").to_pylist())
        assert text * 2 <= 400_000  # the shard's bound
        if d != data_files[-1]:
            assert text * 2 > 400_000 - 2 * biggest_row  # filled before the next shard began
            assert dfile.metadata.num_row_groups >= 3  # ~100 KB groups in a ~400 KB shard
    back = load_dataset("parquet", data_files=[str(f) for f in data_files], split="train")
    meta = load_dataset("parquet", data_files=[str(f) for f in meta_files], split="train")
    assert back.num_rows == meta.num_rows == 120
    assert [c[0]["value"] for c in back["conversations"][:]] == list(meta["problem"][:])
