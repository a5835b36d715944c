"""GBK / GB18030 to UTF-8 for the CSV reader: iconv and Python's codec give the same bytes,
characters cut by a read chunk survive, and the first bad byte is located exactly."""

from __future__ import annotations

import platform
import random
from pathlib import Path

import pytest
from panorama.ingest.connectors import transcode
from panorama.ingest.connectors.transcode import Utf8Stream, iconv_usable

TEXT = "行政处罚决定书文号,名称\n德市监罚〔2024〕1号,德州市德城区某某餐饮店（个体）\n"
RARE = "𠀀𪚥〇€"  # GB18030's four-byte range, and a character GBK lacks


@pytest.fixture(params=["iconv", "python"])
def decoder(request, monkeypatch) -> str:
    if request.param == "iconv":
        if not iconv_usable("gb18030"):
            pytest.skip("this C library has no usable iconv for GB18030")
    else:
        monkeypatch.setattr(transcode, "iconv_usable", lambda encoding: False)
    return request.param


def read(path: Path, encoding: str, chunk: int, size: int = 7) -> bytes:
    stream = Utf8Stream(path, encoding, chunk_bytes=chunk)
    parts = []
    while part := stream.read(size):
        parts.append(part)
    stream.close()
    return b"".join(parts)


def test_iconv_is_used_where_it_agrees_with_python() -> None:
    # glibc has both; elsewhere the Python codec is used, and the tests below show that the
    # two give the same bytes.
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("iconv's GBK tables are checked on glibc only")
    assert iconv_usable("gbk") and iconv_usable("gb18030")
    assert not iconv_usable("big5")


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 1 << 20])
def test_characters_cut_by_a_chunk_survive(tmp_path: Path, decoder: str, chunk: int) -> None:
    rng = random.Random(chunk)
    text = "".join(rng.choice([TEXT, RARE, "a,b\r\n", "，"]) for _ in range(300))
    p = tmp_path / "a.csv"
    p.write_bytes(text.encode("gb18030"))
    assert read(p, "gb18030", chunk) == text.encode("utf-8")
    gbk_text = text.replace("𠀀", "").replace("𪚥", "").replace("€", "")
    p.write_bytes(gbk_text.encode("gbk"))
    assert read(p, "gbk", chunk) == gbk_text.encode("utf-8")


@pytest.mark.parametrize("chunk", [3, 64, 1 << 20])
def test_bad_byte_reported_at_its_file_offset(tmp_path: Path, decoder: str, chunk: int) -> None:
    good = (TEXT * 20).encode("gbk")
    p = tmp_path / "a.csv"
    p.write_bytes(good + b"\xff\xfe,x\n" + TEXT.encode("gbk"))
    with pytest.raises(UnicodeDecodeError) as info:
        read(p, "gbk", chunk, size=1 << 20)
    assert info.value.start == len(good)


def test_truncated_last_character_is_an_error(tmp_path: Path, decoder: str) -> None:
    body = TEXT.encode("gb18030")
    p = tmp_path / "a.csv"
    p.write_bytes(body + "德".encode("gb18030")[:1])
    with pytest.raises(UnicodeDecodeError) as info:
        read(p, "gb18030", 1 << 20)
    assert info.value.start == len(body)


def test_read_after_close_is_an_error_not_a_crash(tmp_path: Path, decoder: str) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes((TEXT * 50).encode("gbk"))
    stream = Utf8Stream(p, "gbk", chunk_bytes=64)
    assert stream.read(10)
    stream.close()
    with pytest.raises(ValueError, match="closed"):
        stream.read(10)


def test_close_while_another_thread_reads(tmp_path: Path, decoder: str) -> None:
    # Arrow's read-ahead thread may be inside read() when the reader closes the stream: the
    # close waits for that read, and later reads fail cleanly (the iconv handle is not reused).
    import threading

    p = tmp_path / "a.csv"
    p.write_bytes((TEXT * 2000).encode("gbk"))
    for _ in range(20):
        stream = Utf8Stream(p, "gbk", chunk_bytes=256)
        errors: list[BaseException] = []

        def pump(s: Utf8Stream = stream, errs: list = errors) -> None:
            try:
                while s.read(97):
                    pass
            except ValueError as exc:
                errs.append(exc)

        t = threading.Thread(target=pump)
        t.start()
        stream.close()
        t.join()
        assert all("closed" in str(e) for e in errors)
