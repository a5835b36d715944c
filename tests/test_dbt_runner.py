"""The dbt runner's bookkeeping of parse states (no dbt run: see test_determinism for the reuse
across runs)."""

from __future__ import annotations

import os
from pathlib import Path

from panorama.build import dbt_runner


def test_only_the_latest_parse_states_are_kept(tmp_path: Path) -> None:
    root = tmp_path / dbt_runner.PARSE_CACHE_SUBDIR
    for i in range(dbt_runner.PARSE_CACHE_KEEP + 3):
        state = root / f"kind{i:02d}" / dbt_runner.PARSE_STATE
        state.parent.mkdir(parents=True)
        state.write_bytes(b"x")
        os.utime(state, (1_000_000 + i, 1_000_000 + i))
    dbt_runner._prune_parse_cache(root)
    kept = sorted(p.name for p in root.iterdir())
    assert kept == [f"kind{i:02d}" for i in range(3, dbt_runner.PARSE_CACHE_KEEP + 3)]


def test_parse_state_is_kept_per_kind_of_call_not_per_run(tmp_path: Path) -> None:
    from panorama.settings import get_settings

    settings = get_settings()
    a = dbt_runner._kept_parse(settings, tmp_path / "run-a" / "candidate.duckdb", {"d": 1})
    b = dbt_runner._kept_parse(settings, tmp_path / "run-b" / "candidate.duckdb", {"d": 1})
    other_vars = dbt_runner._kept_parse(settings, tmp_path / "candidate.duckdb", {"d": 2})
    other_file = dbt_runner._kept_parse(settings, tmp_path / "population.duckdb", {"d": 1})
    assert a == b
    assert len({a, other_vars, other_file}) == 3


def test_paths_handed_to_dbt_are_relative_to_the_real_folders(tmp_path: Path) -> None:
    """dbt works in the candidate's real folder: a build folder linked to another disk must
    still lead to the raw zone."""
    data, other = tmp_path / "data", tmp_path / "other_disk"
    (data / "raw").mkdir(parents=True)
    (other / "build" / "runs" / "r1").mkdir(parents=True)
    (data / "build").symlink_to(other / "build")
    workdir = data / "build" / "runs" / "r1"
    rel = dbt_runner._relative(data / "raw", workdir)
    assert (workdir.resolve() / rel).resolve() == (data / "raw").resolve()
    assert os.path.relpath(data / "raw", workdir) != rel  # the naive answer would miss it


def test_copy_of_a_missing_parse_state_is_nothing(tmp_path: Path) -> None:
    dbt_runner._copy_atomic(tmp_path / "absent.msgpack", tmp_path / "t" / "state.msgpack")
    assert not (tmp_path / "t").exists()
    src = tmp_path / "state.msgpack"
    src.write_bytes(b"parse")
    dbt_runner._copy_atomic(src, tmp_path / "t" / "state.msgpack")
    assert (tmp_path / "t" / "state.msgpack").read_bytes() == b"parse"
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["state.msgpack"]
