"""The paginated-API connector against the real exchange stand-in server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from panorama.ingest.extract import FeedError, extract_feed
from panorama.ingest.feeds import FeedSpec
from panorama.settings import get_settings
from panorama_dev.exchange_server import serve

DS = "2024-03-06"
TOKEN = "s3cret-t0ken"
N = 23
YAML = {
    "name": "penalty__exchange",
    "kind": "penalty",
    "department": "德州市大数据局（数据共享交换平台）",
    "transport": {
        "type": "http",
        "conn_id": "exchange_api",
        "endpoint": "/api/v1/penalties",
        "page_size": 5,
        "timeout_s": 0.5,
        "retries": 2,
        "backoff_s": 0.01,
    },
    "format": {"type": "json"},
    "columns": {
        "cf_wsh": {"source": "cf_wsh"},
        "cf_xdr_mc": {"source": "cf_xdr_mc"},
        "cf_cflb": {"source": "cf_cflb"},
        "cf_jdrq": {"source": "cf_jdrq"},
        "cf_cfjg": {"source": "cf_cfjg"},
        "cf_nr_fk": {"source": "cf_nr_fk"},
    },
    "expected_rows": {"min": 1},
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    jsonl = tmp_path / "penalty__exchange.jsonl"
    recs = [
        {
            "cf_wsh": f"德市监罚〔2024〕{i}号",
            "cf_xdr_mc": f"某某公司{i}",
            "cf_cflb": "罚款",
            "cf_jdrq": "2024-03-05",
            "cf_cfjg": "德州市市场监督管理局",
            "cf_nr_fk": i / 10,
        }
        for i in range(1, N + 1)
    ]
    recs[3]["cf_jdrq"] = "not a date"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    return get_settings(), jsonl, monkeypatch


def run(env, faults=None, token=TOKEN, **transport):
    settings, jsonl, mp = env
    spec = FeedSpec.model_validate({**YAML, "transport": {**YAML["transport"], **transport}})
    with serve(jsonl, TOKEN, faults=faults) as server:
        host = server.url.removeprefix("http://")
        mp.setenv("AIRFLOW_CONN_EXCHANGE_API", f"http://etl:{token}@{host}")
        return extract_feed(spec, DS, settings), server


def rows(settings):
    return pq.read_table(settings.raw_dir / "penalty__exchange" / f"load_date={DS}").to_pylist()


def test_all_pages_land_in_order(env) -> None:
    m, server = run(env)
    got = rows(env[0])
    assert [r["_source_row"] for r in got] == [i for i in range(1, N + 1) if i != 4]
    assert {r["_source_file"] for r in got} == {"/api/v1/penalties"}
    assert got[0]["cf_nr_fk"] == "0.1"
    assert (m.totals["rows_read"], m.totals["rows_kept"], m.totals["rows_quarantined"]) == (
        N,
        N - 1,
        1,
    )
    assert [p for p, _ in server.requests] == [1, 2, 3, 4, 5]  # stops at total
    assert len(m.files[0].sha256) == 64


def test_500_then_success_is_retried(env) -> None:
    m, server = run(env, faults={2: [500, 503]})
    assert m.totals["rows_read"] == N
    assert [s for p, s in server.requests if p == 2] == [500, 503, 200]


def test_timeout_then_success_is_retried(env) -> None:
    m, server = run(env, faults={3: [1.5]})
    assert m.totals["rows_read"] == N
    assert server.hits.count(3) == 2


def test_page_that_keeps_failing_fails_the_feed_without_the_token(env) -> None:
    with pytest.raises(FeedError) as err:
        run(env, faults={2: [500, 500, 500, 500]})
    msg = str(err.value)
    assert "HTTP 500" in msg and "/api/v1/penalties?page=2" in msg and TOKEN not in msg
    manifest = env[0].manifests_dir / "penalty__exchange" / f"load_date={DS}.json"
    assert TOKEN not in manifest.read_text("utf-8")


def test_missing_page_404_fails_at_once(env) -> None:
    with pytest.raises(FeedError, match="HTTP 404") as err:
        run(env, faults={3: 404})
    assert "page=3" in str(err.value)


def test_wrong_token_is_401_and_not_retried(env) -> None:
    with pytest.raises(FeedError, match="HTTP 401") as err:
        run(env, token="wrong")
    assert "after 1 attempt" in str(err.value)


def test_missing_connection_names_the_variable(env, monkeypatch) -> None:
    spec = FeedSpec.model_validate(YAML)
    monkeypatch.delenv("AIRFLOW_CONN_EXCHANGE_API", raising=False)
    with pytest.raises(FeedError, match="AIRFLOW_CONN_EXCHANGE_API"):
        extract_feed(spec, DS, env[0])


def test_server_pages_a_large_file_without_loading_it(tmp_path: Path) -> None:
    import urllib.request

    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(50_000):
            f.write(json.dumps({"i": i}) + "\n")
        f.write("\n")
    with serve(path, "t") as server:
        req = urllib.request.Request(
            f"{server.url}/api/v1/penalties?page=500&size=100",
            headers={"Authorization": "Bearer t"},
        )
        doc = json.loads(urllib.request.urlopen(req, timeout=5).read())
    assert doc["data"]["total"] == 50_000
    assert [x["i"] for x in doc["data"]["items"]] == list(range(49_900, 50_000))
