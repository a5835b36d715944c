"""The dbt runner's bookkeeping of parse states (see test_determinism for the reuse across
runs; one test here parses the project on the Spark target, twice)."""

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


def test_dbt_output_is_logged_line_by_line_while_dbt_runs_and_masked(
    data_dir: Path, monkeypatch, caplog
) -> None:
    """Each line dbt writes reaches the log while dbt still runs (a stand-in dbt waits for its
    first line to be logged before it goes on), with personal data masked there and in the
    tail kept for error messages; the logical date and run id reach dbt as environment
    variables, not vars."""
    import logging
    import sys

    from panorama.settings import get_settings

    logged = data_dir / "first_line_logged"
    fake = data_dir / "dbt"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, pathlib, sys, time\n"
        "print('starting, reach me at 13905341234', flush=True)\n"
        f"marker = pathlib.Path({str(logged)!r})\n"
        "deadline = time.monotonic() + 20\n"
        "while not marker.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('saw my first line logged' if marker.exists() else 'not streamed', flush=True)\n"
        "print('as_of', os.environ['PANORAMA_AS_OF_DATE'], os.environ['PANORAMA_RUN_ID'])\n"
        "print('vars' if '--vars' in sys.argv else 'no vars', file=sys.stderr)\n"
        "sys.exit(3)\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setattr(dbt_runner, "dbt_executable", lambda: str(fake))

    class MarkFirstLine(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("dbt | starting"):
                logged.touch()

    handler = MarkFirstLine()
    dbt_runner.log.addHandler(handler)
    caplog.set_level(logging.INFO, logger=dbt_runner.log.name)
    try:
        result = dbt_runner.run_dbt(
            ["build"],
            settings=get_settings(),
            db_path=data_dir / "build" / "candidate.duckdb",
            run_dir=data_dir / "build" / "runs" / "r1",
            as_of="2026-11-30",
            run_id="r1",
        )
    finally:
        dbt_runner.log.removeHandler(handler)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dbt | ")]
    assert lines == [
        "dbt | starting, reach me at [phone number masked]",
        "dbt | saw my first line logged",
        "dbt | as_of 2026-11-30 r1",
        "dbt | no vars",
    ]
    assert result.returncode == 3 and not result.success
    assert "13905341234" not in result.log_tail and "saw my first line logged" in result.log_tail


def test_a_changed_engine_variant_is_parsed_afresh_and_stays_in_the_graph(
    tmp_path: Path, monkeypatch
) -> None:
    """The inspector assignment is one model written twice (Python on DuckDB, SQL on Spark,
    the other disabled). dbt's partial parsing drops the enabled one when either file changes;
    the runner's parse state then starts afresh, so the next call still finds the model."""
    import dataclasses
    import json
    import shutil

    from panorama.settings import get_settings

    monkeypatch.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    project = tmp_path / "dbt_project"
    shutil.copytree(
        get_settings().dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    settings = dataclasses.replace(get_settings(), dbt_project_dir=project)
    model = project / "models/intermediate/supervision/int_supervision__assignment.py"

    def parse() -> set[str]:
        run = tmp_path / "run"
        result = dbt_runner.run_dbt(
            ["parse"],
            settings=settings,
            db_path=run / "candidate.duckdb",
            run_dir=run,
            as_of="2026-11-24",
            run_id="parse",
            target="spark",
        )
        assert result.success, result.log_tail
        manifest = json.loads((run / "dbt_target" / "manifest.json").read_text("utf-8"))
        return {k for k in manifest["nodes"] if k.startswith("model.")}

    name = "model.credit_panorama.int_supervision__assignment"
    before = dbt_runner._kept_parse(settings, tmp_path / "candidate.duckdb", {}, "spark")
    assert name in parse()
    model.write_text(model.read_text("utf-8") + "\n# changed\n", "utf-8")
    after = dbt_runner._kept_parse(settings, tmp_path / "candidate.duckdb", {}, "spark")
    assert after != before
    assert name in parse()
