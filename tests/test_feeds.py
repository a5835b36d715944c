"""The feed registry: valid YAML loads; every kind of mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from panorama.ingest.feeds import FeedConfigError, load_feed, load_registry
from panorama.ingest.kinds import KINDS
from panorama.settings import get_settings

PENALTY = """\
name: penalty__amr
kind: penalty
department: 德州市市场监督管理局
transport: {type: file, path: "penalty__amr/*.csv"}
format: {type: csv, encoding: gbk}
columns:
  cf_wsh: {source: 行政处罚决定书文号}
  cf_xdr_mc: {source: 行政相对人名称}
  cf_xdr_shxym: {source: 统一社会信用代码, type: code}
  cf_cflb: {source: 处罚类别}
  cf_nr_fk: {source: 罚款金额(万元), type: amount}
  cf_jdrq: {source: 处罚决定日期, type: date}
  cf_cfjg: {source: 处罚机关}
  cf_sjly: {value: 德州市市场监督管理局}
expected_rows: {min: 1, max: 1000}
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_valid_feed_loads_with_kind_defaults(tmp_path: Path) -> None:
    spec = load_feed(write(tmp_path, "penalty__amr", PENALTY))
    assert spec.kind == "penalty" and spec.effective_delivery == "incremental"
    cols = {c.field: c for c in spec.resolved_columns()}
    assert list(cols) == KINDS["penalty"].field_names
    assert cols["cf_jdrq"].type == "date" and cols["cf_jdrq"].required
    assert cols["cf_nr_fk"].unit == "万元"
    assert cols["cf_sjly"].value == "德州市市场监督管理局"
    assert cols["cf_frdb"].source is None and not cols["cf_frdb"].required
    assert "excel_serial" in spec.date_formats


@pytest.mark.parametrize(
    ("edit", "where", "what"),
    [
        (lambda t: t.replace("name: penalty__amr", "name: penalty__xyz"), "name", "file stem"),
        (lambda t: t.replace("kind: penalty", "kind: fines"), "kind", "unknown"),
        (lambda t: t.replace("path: ", "pathh: "), "transport.file.pathh", "Extra inputs"),
        (lambda t: t.replace("  cf_cfjg: {source: 处罚机关}\n", ""), "columns", "cf_cfjg"),
        (
            lambda t: t.replace(
                "cf_jdrq: {source: 处罚决定日期, type: date}",
                "cf_jdrq: {source: 处罚决定日期, type: text}",
            ),
            "columns.cf_jdrq.type",
            "contradicts",
        ),
        (lambda t: t.replace("cf_cflb:", "cf_nope:"), "columns", "cf_nope"),
        (lambda t: t.replace("encoding: gbk", "encoding: big5"), "format.encoding", "gbk"),
        (lambda t: t + "date_formats: ['%d.%m']\n", "date_formats", "%Y"),
        (lambda t: t.replace("max: 1000", "max: 0"), "expected_rows.max", "below"),
        (lambda t: t.replace("type: csv", "type: table"), "format.type", "does not fit"),
        (lambda t: t.replace("{value: 德州市市场监督管理局}", "{}"), "columns.cf_sjly", "source"),
        (lambda t: t + "known_unmapped: [处罚机关]\n", "known_unmapped", "mapped in columns"),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path: Path, edit, where: str, what: str) -> None:
    path = write(tmp_path, "penalty__amr", edit(PENALTY))
    with pytest.raises(FeedConfigError) as err:
        load_feed(path)
    msg = str(err.value)
    assert str(path) in msg and where in msg and what in msg, msg


def test_name_must_start_with_kind(tmp_path: Path) -> None:
    text = PENALTY.replace("name: penalty__amr", "name: amr_penalty")
    with pytest.raises(FeedConfigError, match="must start with its kind"):
        load_feed(write(tmp_path, "amr_penalty", text))


def test_registry_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "penalty__amr", PENALTY)
    write(
        tmp_path,
        "penalty__bad1",
        PENALTY.replace("penalty__amr", "penalty__bad1").replace("kind: penalty", "kind: x"),
    )
    write(tmp_path, "penalty__bad2", "- not a mapping\n")
    with pytest.raises(FeedConfigError) as err:
        load_registry(tmp_path)
    assert "penalty__bad1.yaml" in str(err.value) and "penalty__bad2.yaml" in str(err.value)
    (tmp_path / "penalty__bad1.yaml").unlink()
    (tmp_path / "penalty__bad2.yaml").unlink()
    assert list(load_registry(tmp_path)) == ["penalty__amr"]


def test_sql_and_http_transports_validate(tmp_path: Path) -> None:
    sql = PENALTY.replace(
        '{type: file, path: "penalty__amr/*.csv"}', '{type: sql, url: "sqlite:///{landing}/x.db"}'
    )
    sql = sql.replace("{type: csv, encoding: gbk}", "{type: table}")
    with pytest.raises(FeedConfigError, match="table/query"):
        load_feed(write(tmp_path, "penalty__amr", sql))
    http = PENALTY.replace(
        '{type: file, path: "penalty__amr/*.csv"}',
        "{type: http, endpoint: /api/v1/penalties, page_size: 0}",
    )
    http = http.replace("{type: csv, encoding: gbk}", "{type: json}")
    with pytest.raises(FeedConfigError) as err:
        load_feed(write(tmp_path, "penalty__amr", http))
    assert "transport.http.conn_id" in str(err.value)
    assert "transport.http.page_size" in str(err.value)


def test_repository_feeds_load() -> None:
    feeds_dir = get_settings().feeds_dir
    if not any(feeds_dir.glob("*.yaml")):
        pytest.skip(f"no feed YAML in {feeds_dir} yet")
    registry = load_registry(feeds_dir)
    for name, spec in registry.items():
        assert name.startswith(spec.kind + "__")
