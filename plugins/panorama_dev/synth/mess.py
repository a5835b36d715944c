"""Deterministic defects of real deliveries: date formats, full-width characters, code
noise, invalid check characters, amounts in mixed units, unparseable values.

Every defect planted in a record is named in ``Mess.planted`` so the ground truth can list it.
"""

from __future__ import annotations

import datetime as dt
import random

from panorama.identity.codes import USCC_CHARSET

EXCEL_EPOCH = dt.date(1899, 12, 30)
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def excel_serial(date: dt.date) -> int:
    return (date - EXCEL_EPOCH).days


def fullwidth(text: str) -> str:
    return "".join(_FULLWIDTH.get(c, c) for c in text)


class Mess:
    """Applies defects at a fixed ``rate`` (each kind) from one RNG; collects their names."""

    def __init__(self, rng: random.Random, rate: float = 0.02, broken: float = 0.002) -> None:
        self.rng = rng
        self.rate = rate
        self.broken = broken
        self.planted: list[str] = []

    def start(self) -> None:
        self.planted = []

    def take(self) -> str | None:
        text = ",".join(dict.fromkeys(self.planted)) or None
        self.planted = []
        return text

    def hit(self, factor: float = 1.0) -> bool:
        return self.rng.random() < self.rate * factor

    def date(
        self,
        date: dt.date | None,
        styles: str = "-/c",
        serial: bool = False,
        broken_ok: bool = True,
    ) -> str | int:
        """ISO mostly; '/' 2024/3/5, 'c' 2024年3月5日, serial numbers when allowed."""
        if date is None:
            return ""
        if broken_ok and self.rng.random() < self.broken:
            self.planted.append("unparseable_date")
            return self.rng.choice(("待定", "不详", "0000-00-00"))
        x = self.rng.random()
        if "/" in styles and x < self.rate * 2:
            self.planted.append("date_slash")
            return f"{date.year}/{date.month}/{date.day}"
        if "c" in styles and x < self.rate * 3:
            self.planted.append("date_chinese")
            return f"{date.year}年{date.month}月{date.day}日"
        if serial and x < self.rate * 4:
            self.planted.append("date_excel_serial")
            return str(excel_serial(date))
        return date.isoformat()

    def code(self, code: str | None, invalid_ok: bool = True, missing_ok: bool = True) -> str:
        """A code as keyed in by a clerk: sometimes spaced, lower case, full-width, wrong
        check character, or missing."""
        if not code:
            return ""
        x = self.rng.random()
        r = self.rate
        if missing_ok and x < r:
            self.planted.append("missing_code")
            return ""
        if invalid_ok and len(code) == 18 and x < 2 * r:
            self.planted.append("invalid_uscc")
            wrong = [c for c in USCC_CHARSET if c != code[-1]]
            return code[:-1] + self.rng.choice(wrong)
        if x < 3 * r:
            self.planted.append("code_spaces")
            return f" {code[:6]} {code[6:]} " if len(code) > 9 else f" {code} "
        if x < 4 * r:
            self.planted.append("code_lower")
            return code.lower()
        if x < 4.5 * r:
            self.planted.append("code_fullwidth")
            return fullwidth(code)
        return code

    def name(self, name: str) -> str:
        """Registered names use full-width brackets; some systems store half-width ones, and
        some clerks type full-width brackets where there were none."""
        if "（" in name and self.hit(3):
            self.planted.append("halfwidth_brackets")
            return name.replace("（", "(").replace("）", ")")
        if self.hit(0.5):
            self.planted.append("trailing_space")
            return name + " "
        return name

    def address(self, address: str) -> str:
        if self.hit():
            self.planted.append("fullwidth_digits")
            return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in address)
        return address

    def amount_wan(self, yuan: int) -> str:
        """A fine in a column declared in 万元: mostly 万元 numbers, sometimes with a unit."""
        if yuan == 0:
            return "" if self.rng.random() < 0.5 else "0"
        if self.rng.random() < self.broken:
            self.planted.append("unparseable_amount")
            return "另行通知"
        x = self.rng.random()
        if x < self.rate:
            self.planted.append("amount_yuan_text")
            return f"{yuan}元"
        if x < 2 * self.rate:
            self.planted.append("amount_yuan_thousands")
            return f"{yuan:,.1f}元"
        if x < 3 * self.rate:
            self.planted.append("amount_wan_text")
            return f"{yuan / 10_000:g}万元"
        return f"{yuan / 10_000:g}"

    def amount_yuan(self, yuan: int) -> str | int:
        """A fine in a column declared in 元: plain numbers or text with units."""
        if self.rng.random() < self.broken:
            self.planted.append("unparseable_amount")
            return "另行通知"
        x = self.rng.random()
        if x < 0.3:
            return f"{yuan}元"
        if x < 0.3 + self.rate:
            self.planted.append("amount_yuan_thousands")
            return f"{yuan:,}元"
        if x < 0.3 + 2 * self.rate:
            self.planted.append("amount_wan_text")
            return f"{yuan / 10_000:g}万元"
        return yuan

    def duplicate(self) -> bool:
        return self.hit(0.5)
