"""Vectorised normalisation: each column type on the forms departments really send."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from panorama.identity.codes import normalize_code
from panorama.ingest.normalize import normalize, reason

FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "excel_serial"]


def run(values, ftype, **kw):
    res = normalize(pa.array(values, pa.string()), ftype, **kw)
    bad = res.bad.to_pylist() if res.bad is not None else [False] * len(values)
    return res.values.to_pylist(), bad


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-03-05", "2024-03-05"),
        ("2024-3-5", "2024-03-05"),
        ("2024/3/5", "2024-03-05"),
        ("2024/03/05", "2024-03-05"),
        ("2024年3月5日", "2024-03-05"),
        ("２０２４年３月５日", "2024-03-05"),
        ("45356", "2024-03-05"),
        ("45356.0", "2024-03-05"),
        ("2024-03-05 14:30:00", "2024-03-05"),
        ("2024-03-05T14:30:00+08:00", "2024-03-05"),
        (" 2024-03-05 ", "2024-03-05"),
        ("2000-02-29", "2000-02-29"),
    ],
)
def test_dates_understood(raw: str, iso: str) -> None:
    assert run([raw], "date", date_formats=FORMATS) == ([iso], [False])


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024年13月5日",
        "1800-01-01",
        "99999",
        "5",
        "2024.03.05",
        "03/05/2024",
    ],
)
def test_bad_dates_flagged(raw: str) -> None:
    assert run([raw], "date", date_formats=FORMATS) == ([None], [True])


def test_date_formats_are_the_feeds() -> None:
    # Without excel_serial a serial number is not a date; a custom format is honoured.
    assert run(["45356"], "date", date_formats=["%Y-%m-%d"]) == ([None], [True])
    assert run(["05.03.2024"], "date", date_formats=["%d.%m.%Y"]) == (["2024-03-05"], [False])
    assert run(["20240305"], "date", date_formats=["%Y%m%d"]) == (["2024-03-05"], [False])


def test_empty_dates_are_null_not_bad() -> None:
    assert run(["", None, "  "], "date", date_formats=FORMATS) == ([None] * 3, [False] * 3)


@pytest.mark.parametrize(
    ("raw", "unit", "wan"),
    [
        ("1.5", "万元", "1.5"),
        ("1.50", "万元", "1.5"),
        ("15000", "元", "1.5"),
        ("15000元", "万元", "1.5"),
        ("1.5万元", "元", "1.5"),
        ("3万", "元", "3"),
        ("1,234,500.00元", "万元", "123.45"),
        ("１２３４５", "元", "1.2345"),
        ("１，０００元", "万元", "0.1"),
        ("¥800", "元", "0.08"),
        ("0.01元", "万元", "0.000001"),
        ("0", "元", "0"),
        ("-200元", "万元", "-0.02"),
        ("123456789012345678901234567890", "元", "12345678901234567890123456.789"),
    ],
)
def test_amounts_in_wanyuan(raw: str, unit: str, wan: str) -> None:
    assert run([raw], "amount", unit=unit) == ([wan], [False])


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "万元", "1e5", "12美元"])
def test_bad_amounts_flagged(raw: str) -> None:
    assert run([raw], "amount") == ([None], [True])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (" 91371402ma1k3btp2b ", "91371402MA1K3BTP2B"),
        ("9137 1402 MA1K 3BTP 2B", "91371402MA1K3BTP2B"),
        ("９１３７１４０２ＭＡ１Ｋ３ＢＴＰ２Ｂ", "91371402MA1K3BTP2B"),
        ("77526004-3", "775260043"),
        ("91371402MA1K3BTP2\u3000B", "91371402MA1K3BTP2B"),
        ("91110000600037341N", "91110000600037341N"),  # bad check digit: kept, not validated
        ("", None),
    ],
)
def test_codes(raw: str, code: str | None) -> None:
    assert run([raw], "code") == ([code], [False])


def test_codes_match_identity_normalize_code() -> None:
    rng = random.Random(7)
    alphabet = "0123456789abcXYZ ９Ａｂ-\t\u3000（）"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    got, _ = run(values, "code")
    assert got == [normalize_code(v) for v in values]


def test_text_folds_width_but_keeps_chinese() -> None:
    got, bad = run(
        ["  德州市德城区某某餐饮店（个体工商户） ", "ＡＢＣ１２３，违法事实：经查。", "　", None],
        "text",
    )
    assert got == ["德州市德城区某某餐饮店(个体工商户)", "ABC123，违法事实：经查。", None, None]
    assert bad == [False] * 4


def test_ints() -> None:
    assert run(["2023", "2023.0", " ２０２３ ", "1,000", "x", "20.5"], "int") == (
        ["2023", "2023", "2023", "1000", None, None],
        [False, False, False, False, True, True],
    )


def test_reason_never_echoes_personal_data() -> None:
    assert "370102199001011234" not in reason("code", "370102199001011234", pii=True)
    assert "'2024-13-45'" in reason("date", "2024-13-45")


def test_date_fast_path_agrees_with_the_slow_path() -> None:
    from panorama.ingest.normalize import _dates_fast, _dates_slow

    rng = random.Random(11)
    pieces = ["2024", "1899", "2101", "2000", "1900", "02", "2", "29", "30", "31", "13", "00", "12"]
    seps = ["-", "/", "年", "月", "日", ".", "", " ", "x"]
    values = [
        "".join(rng.choice(pieces) + rng.choice(seps) for _ in range(rng.randint(1, 3)))
        for _ in range(4000)
    ] + ["", None, "2024-02-29", "2023-02-29", "2024年02月29日", "2024/12/31", "20240305"]
    for formats in (FORMATS, ["%Y%m%d"], ["%d.%m.%Y", "%m.%d.%Y"], ["%Y/%m/%d", "%Y-%d-%m"]):
        arr = pa.array(values, pa.string())
        got = normalize(arr, "date", date_formats=formats)
        want_values, want_bad = _dates_slow(arr, formats)
        assert got.values.to_pylist() == want_values.to_pylist(), formats
        got_bad = got.bad.to_pylist() if got.bad is not None else [False] * len(values)
        assert got_bad == want_bad.to_pylist(), formats
    # The common shapes are parsed by the fast path itself.
    _, done = _dates_fast(
        pa.array(["2024-02-29", "2024/12/31", "2024年03月05日", ""]), tuple(FORMATS)
    )
    assert done.tolist() == [True, True, True, True]


def test_amount_fast_path_agrees_with_the_slow_path() -> None:
    from panorama.ingest.normalize import _amounts_fast, _amounts_slow

    rng = random.Random(12)
    values = [
        "".join(rng.choice("0012345.0.-, 元万x") for _ in range(rng.randint(0, 7)))
        for _ in range(4000)
    ] + ["0", "0.00", "3.", "0.", "00", "1.50", "120.000", "7", None, ""]
    arr = pa.array(values, pa.string())
    got = normalize(arr, "amount", unit="万元")
    want_values, want_bad = _amounts_slow(arr, "万元")
    assert got.values.to_pylist() == want_values.to_pylist()
    got_bad = got.bad.to_pylist() if got.bad is not None else [False] * len(values)
    assert got_bad == want_bad.to_pylist()
    _, done = _amounts_fast(pa.array(["0.50", "12", "3.", "1.5万", ""]))
    assert done.tolist() == [True, True, True, False, True]


def test_trim_check_finds_every_whitespace_at_either_end() -> None:
    """The byte scan that skips ``utf8_trim_whitespace`` misses no value it would change."""
    import pyarrow.compute as pc
    from panorama.ingest.normalize import _WHITESPACE, _needs_trim

    assert not _needs_trim(pa.array(["德州市", "《食品安全法》", "ＡＢ", "a b", "", None]))
    bodies = ["德州", "x", "《法》", "", "a\u3000b"]
    for ws in _WHITESPACE:
        for body in bodies:
            for value in (ws + body, body + ws):
                arr = pa.array(["德城区", None, value, "末"], pa.string())
                assert _needs_trim(arr), repr(value)
                assert _needs_trim(arr.slice(2, 1)), repr(value)
    # Nothing else is whitespace to Arrow: a sweep of the BMP around the known spaces.
    others = [chr(c) for c in range(0x01, 0x3100) if chr(c) not in _WHITESPACE and chr(c) != "\x00"]
    arr = pa.array([f"{c}中{c}" for c in others], pa.string())
    assert pc.all(pc.equal(pc.utf8_trim_whitespace(arr), arr)).as_py()


@pytest.mark.parametrize(
    ("raw", "unit", "wan"),
    [
        ("2亿元", "万元", "20000"),
        ("0.00001亿", "元", "0.1"),
        ("1.23456亿元", "万元", "12345.6"),
        ("3", "亿元", "30000"),
        ("3000元", "亿元", "0.3"),
    ],
)
def test_yi_units(raw: str, unit: str, wan: str) -> None:
    assert run([raw], "amount", unit=unit) == ([wan], [False])


def test_implausible_amounts_are_flagged_with_their_reason() -> None:
    from panorama.ingest.kinds import AmountRange

    values = ["0.5", "3000", "3000元", "999.99", "-1", "1亿元", "10000.01万", "1.5亿", "", "x"]
    res = normalize(
        pa.array(values, pa.string()),
        "amount",
        unit="万元",
        amount_range=AmountRange(min=0.0, max=10_000.0, bare_max=1_000.0),
    )
    assert res.values.to_pylist() == ["0.5", None, "0.3", "999.99", None, "10000"] + [None] * 4
    assert res.bad.to_pylist() == [False, True, False, False, True, False, True, True, False, True]
    why = res.why.to_pylist()
    assert "looks like 元" in why[1] and why[4] == "negative amount"
    assert "maximum" in why[6] and "maximum" in why[7] and why[9] is None
    assert "'3000'" in reason("amount", "3000", why=why[1])
    # a bare value is plausible when the column's own unit is 元
    yuan = normalize(
        pa.array(["3000"]), "amount", unit="元", amount_range=AmountRange(bare_max=1_000.0)
    )
    assert yuan.values.to_pylist() == ["0.3"] and not any(yuan.bad.to_pylist())


def test_control_characters() -> None:
    res = normalize(pa.array(["德州\x00某某公司", " a\x7fb\x1b ", "行1\n行2\t", None]), "text")
    assert res.values.to_pylist() == ["德州某某公司", "ab", "行1\n行2", None]
    assert res.cleaned.to_pylist() == [True, True, False, False]
    codes = normalize(pa.array(["91371402MA1K3BTP2B", "9137\x00MA1K"]), "code")
    assert codes.values.to_pylist() == ["91371402MA1K3BTP2B", None]
    assert codes.bad.to_pylist() == [False, True]
    assert "\x00" not in reason("code", "9137\x00MA1K", why=codes.why.to_pylist()[1])


def test_dates_after_the_plausible_maximum() -> None:
    res = normalize(
        pa.array(["2024-03-05", "2024-04-05", "2024-04-06", "2030/1/1", "1899-12-31", None]),
        "date",
        date_formats=FORMATS,
        max_date="2024-04-05",
    )
    assert res.values.to_pylist() == ["2024-03-05", "2024-04-05", None, None, None, None]
    assert res.bad.to_pylist() == [False, False, True, True, True, False]
    why = res.why.to_pylist()
    assert why[2] == why[3] == "date after 2024-04-05, too far after the logical date"
    assert why[4] == "date before 1900"


def test_control_scan_finds_every_control_character() -> None:
    """The byte scan that skips the regex misses no control character, wherever it sits."""
    from panorama.ingest.normalize import _has_control

    assert not _has_control(pa.array(["德州\t某某\r\n", "", None, "ＡＢ"]))
    long = "德" * 30_000  # values across the scan's chunk boundaries
    for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]:
        for value in (chr(c), f"a{chr(c)}b", long + chr(c), chr(c) + long):
            arr = pa.array(["德城区", None, value, "末"], pa.string())
            assert _has_control(arr), (c, len(value))
            assert _has_control(arr.slice(2, 1)), (c, len(value))
            assert not _has_control(arr.slice(3, 1))
