"""Personal-data detection: the Python and DuckDB twins agree; ids are not taken for phones."""

from __future__ import annotations

import duckdb
import pytest
from panorama.identity import pii

CASES = [
    ("联系电话13912345678", True),
    ("电话：139 1234 5678", True),
    ("+86-139-1234-5678", True),
    ("ab16405181624db039323618725fbfa9", False),  # md5 record id with an 11-digit run inside
    ("91371402177020496R", False),  # USCC
    ("罚款13912345678.5元", True),  # a number glued to Chinese text and punctuation still counts
    ("12345678901", False),  # not a mobile prefix
]


def _sql(expr: str, text: str):
    return duckdb.execute(f"select {expr} from (select ?::varchar as t)", [text]).fetchall()[0][0]


@pytest.mark.parametrize("text,has_mobile", CASES)
def test_mobile_detection_python_and_sql_agree(text, has_mobile):
    assert bool(pii.find_mobile_numbers(text)) is has_mobile
    assert _sql(pii.sql_has_mobile_number("t"), text) is has_mobile
    masked = pii.mask_personal_data(text)
    assert (pii.MOBILE_MASK in masked) is has_mobile


def test_id_card_number_in_text_is_found_and_masked():
    from stdnum.cn import ric

    body = "37140219850312123"
    number = body + ric.calc_check_digit(body + "0")  # stdnum drops the last character
    text = f"被执行人身份证号{number}，住址"
    assert pii.find_id_card_numbers(text) == [number]
    assert number not in pii.mask_personal_data(text)
    assert _sql(pii.sql_has_id_card_number("t"), text) is True
    assert (
        pii.find_id_card_numbers(f"id{number}x") == []
    )  # glued to letters: an identifier, not text


def _with_check(body17: str) -> str:
    from stdnum.cn import ric

    return body17 + ric.calc_check_digit(body17 + "0")


@pytest.mark.parametrize(
    "value,expected",
    [
        (_with_check("11010519491231002"), True),
        (_with_check("37140219800101555"), True),  # also passes the GB 32100 USCC check
        (_with_check("37140219800230123"), False),  # 30 February
        (_with_check("99140219800101123"), False),  # no such province
        (_with_check("37140218991231123"), False),  # born before 1900
        ("11010519491231002" + "0", False),  # wrong check character
        ("91371402177020496R", False),  # a USCC
        (None, False),
        ("", False),
    ],
)
def test_resident_id_number(value, expected):
    assert pii.is_resident_id_number(value) is expected
