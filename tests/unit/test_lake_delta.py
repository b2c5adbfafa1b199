"""The Delta layer without Spark: commits are atomic, idempotent, partition-scoped, concurrent-safe."""

import multiprocessing as mp
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lmdata.errors import FatalError
from lmdata.lake import delta

SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string()), ("p", pa.string())])


def _stage_files(
    table: str, rows: list[tuple[int, str, str]], nfiles: int = 2
) -> list[delta.DataFile]:
    """Write rows like Spark would (partition dirs, no partition column in the files)."""
    wdir = delta.new_write_dir(table)
    for i in range(nfiles):
        chunk = rows[i::nfiles]
        by_p: dict[str, list] = {}
        for r in chunk:
            by_p.setdefault(r[2], []).append(r)
        for p, rs in by_p.items():
            d = os.path.join(wdir, f"p={p}")
            os.makedirs(d, exist_ok=True)
            pq.write_table(
                pa.table({"id": [r[0] for r in rs], "text": [r[1] for r in rs]}),
                os.path.join(d, f"part-{i:05d}.parquet"),
            )
    return delta.collect_data_files(table, wdir, ["p"])


def _rows(table: str) -> list[tuple]:
    t = delta.read_arrow(table)
    return sorted(zip(t["id"].to_pylist(), t["text"].to_pylist(), t["p"].to_pylist(), strict=True))


def test_commit_creates_table_with_real_stats(tmp_path):
    table = str(tmp_path / "t")
    rows = [(i, f"doc {i}", "a" if i % 3 else "b") for i in range(30)]
    files = _stage_files(table, rows)
    res = delta.commit_files(table, files, SCHEMA, partition_by=["p"], app_id="run-1")
    assert res.committed and res.version == 0 and res.rows == 30
    assert _rows(table) == sorted(rows)
    dt = DeltaTable(table)
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    assert sum(a["num_records"] for a in actions) == 30
    assert all(a["min.id"] is not None and a["max.id"] >= a["min.id"] for a in actions)
    # pandas through deltalake reads the same rows
    assert len(dt.to_pandas()) == 30


def test_same_app_transaction_twice_adds_nothing(tmp_path):
    table = str(tmp_path / "t")
    rows = [(i, "x", "a") for i in range(10)]
    delta.commit_files(table, _stage_files(table, rows), SCHEMA, partition_by=["p"], app_id="run-1")
    again = delta.commit_files(
        table, _stage_files(table, rows), SCHEMA, partition_by=["p"], app_id="run-1"
    )
    assert not again.committed
    assert DeltaTable(table).version() == 0
    assert len(_rows(table)) == 10
    assert delta.committed(table, "run-1") == 1
    # a different run id appends
    other = delta.commit_files(
        table, _stage_files(table, rows), SCHEMA, partition_by=["p"], app_id="run-2"
    )
    assert other.committed and len(_rows(table)) == 20


def test_overwrite_replaces_only_its_partition(tmp_path):
    table = str(tmp_path / "t")
    rows = [(i, "old", "a" if i < 5 else "b") for i in range(10)]
    delta.commit_files(table, _stage_files(table, rows), SCHEMA, partition_by=["p"], app_id="r1")
    new = [(100, "new", "a")]
    delta.commit_files(
        table,
        _stage_files(table, new, 1),
        SCHEMA,
        mode="overwrite",
        partition_by=["p"],
        overwrite_partitions={"p": "a"},
        app_id="r2",
    )
    got = _rows(table)
    assert [r for r in got if r[2] == "a"] == [(100, "new", "a")]
    assert [r for r in got if r[2] == "b"] == [r for r in sorted(rows) if r[2] == "b"]
    # time travel still sees the old partition
    old = delta.read_arrow(table, version=0)
    assert old.num_rows == 10


def test_overwrite_filter_must_name_partition_columns(tmp_path):
    table = str(tmp_path / "t")
    delta.commit_files(table, _stage_files(table, [(1, "x", "a")], 1), SCHEMA, partition_by=["p"])
    with pytest.raises(FatalError, match="non-partition"):
        delta.commit_files(
            table,
            _stage_files(table, [(2, "y", "a")], 1),
            SCHEMA,
            mode="overwrite",
            partition_by=["p"],
            overwrite_partitions={"id": "1"},
        )


def test_schema_evolution_adds_column(tmp_path):
    table = str(tmp_path / "t")
    delta.commit_files(table, _stage_files(table, [(1, "x", "a")], 1), SCHEMA, partition_by=["p"])
    wdir = delta.new_write_dir(table)
    os.makedirs(os.path.join(wdir, "p=a"))
    pq.write_table(
        pa.table({"id": [2], "text": ["y"], "score": [0.5]}), os.path.join(wdir, "p=a", "f.parquet")
    )
    schema2 = pa.schema(
        [("id", pa.int64()), ("text", pa.string()), ("score", pa.float64()), ("p", pa.string())]
    )
    delta.commit_files(
        table, delta.collect_data_files(table, wdir, ["p"]), schema2, partition_by=["p"]
    )
    t = delta.read_arrow(table).sort_by("id")
    assert "score" in t.column_names
    assert t["score"].to_pylist() == [None, 0.5]


def test_uncommitted_files_are_invisible_and_vacuumable(tmp_path):
    table = str(tmp_path / "t")
    delta.commit_files(table, _stage_files(table, [(1, "x", "a")], 1), SCHEMA, partition_by=["p"])
    orphans = _stage_files(table, [(2, "orphan", "a")], 1)  # written, never committed
    assert orphans and os.path.exists(os.path.join(table, orphans[0].path))
    assert _rows(table) == [(1, "x", "a")]
    assert any(orphans[0].path in p for p in delta.vacuum_orphans(table, older_than_hours=0))


def _append_worker(table: str, start: int, barrier) -> None:
    rows = [(start + i, f"w{start}", "a" if i % 2 else "b") for i in range(50)]
    files = _stage_files(table, rows)
    barrier.wait()
    delta.commit_files(table, files, SCHEMA, partition_by=["p"], app_id=f"worker-{start}")


def test_concurrent_appends_both_land(tmp_path):
    table = str(tmp_path / "t")
    delta.commit_files(
        table, _stage_files(table, [(-1, "seed", "a")], 1), SCHEMA, partition_by=["p"]
    )
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(target=_append_worker, args=(table, s, barrier)) for s in (1000, 2000, 3000)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = _rows(table)
    assert len(got) == 1 + 150
    assert len({r[0] for r in got}) == 151
    assert DeltaTable(table).version() == 3
    for s in (1000, 2000, 3000):
        assert delta.committed(table, f"worker-{s}") == 1


def test_write_table_idempotent_and_partition_overwrite(tmp_path):
    table = str(tmp_path / "q")
    t1 = pa.table({"k": ["a", "a", "b"], "v": [1, 2, 3]})
    delta.write_table(table, t1, partition_by=["k"], app_id="q1")
    delta.write_table(table, t1, partition_by=["k"], app_id="q1")
    assert delta.read_arrow(table).num_rows == 3
    delta.write_table(
        table,
        pa.table({"k": ["a"], "v": [9]}),
        mode="overwrite",
        partition_by=["k"],
        overwrite_partitions={"k": "a"},
        app_id="q2",
    )
    assert sorted(delta.read_arrow(table)["v"].to_pylist()) == [3, 9]
