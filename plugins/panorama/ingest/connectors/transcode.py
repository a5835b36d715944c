"""GBK / GB18030 deliveries read as UTF-8 bytes, for Arrow's CSV parser.

The C library's ``iconv`` (through ctypes) does the work where it agrees with Python's codec on
a probe text; it is about twice as fast as decoding to ``str`` and encoding again, which matters
because the decode is most of the cost of a GBK file. Elsewhere Python's codec is used.
Either way the first undecodable byte is reported as a :class:`UnicodeDecodeError` whose
``start`` is its offset in the file.

Arrow reads the stream from its read-ahead thread, which may still be in :meth:`Utf8Stream.read`
when the main thread closes the stream (a parse error ends the read early). Reads and ``close``
therefore take one lock: the iconv handle is freed only when no read is using it, and a read
after ``close`` raises ``ValueError`` instead of touching freed memory.
"""

from __future__ import annotations

import codecs
import ctypes
import ctypes.util
import errno
import io
import threading
from functools import cache
from pathlib import Path

# Python codec name -> iconv name, for the encodings this module transcodes.
ICONV_NAMES = {"gbk": "GBK", "gb18030": "GB18030"}
# Decoded both ways at start-up: ASCII, two-byte GBK, and GB18030's four-byte range.
_PROBE = "德州市德城区市场监督管理局（个体）罚款1.5万元，ABC-123；𠀀〇€"


class _Iconv:
    """One direction of ``iconv`` (``encoding`` -> UTF-8). Not thread-safe: one per stream."""

    _lib: ctypes.CDLL | None = None
    _lock = threading.Lock()

    def __init__(self, encoding: str) -> None:
        lib = self._libc()
        handle = lib.iconv_open(b"UTF-8", ICONV_NAMES[encoding].encode())
        if handle in (None, ctypes.c_void_p(-1).value):
            raise OSError(f"iconv has no {encoding}")
        self._cd = ctypes.c_void_p(handle)
        self._out: ctypes.Array | None = None
        self.encoding = encoding

    @classmethod
    def _libc(cls) -> ctypes.CDLL:
        with cls._lock:
            if cls._lib is None:
                name = ctypes.util.find_library("c")
                if name is None:
                    raise OSError("no C library found")
                lib = ctypes.CDLL(name, use_errno=True)
                lib.iconv_open.restype = ctypes.c_void_p
                lib.iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
                lib.iconv.restype = ctypes.c_size_t
                lib.iconv.argtypes = [
                    ctypes.c_void_p,
                    ctypes.POINTER(ctypes.c_void_p),
                    ctypes.POINTER(ctypes.c_size_t),
                    ctypes.POINTER(ctypes.c_void_p),
                    ctypes.POINTER(ctypes.c_size_t),
                ]
                lib.iconv_close.argtypes = [ctypes.c_void_p]
                cls._lib = lib
            return cls._lib

    def convert(self, data: bytes, final: bool) -> tuple[bytes, int]:
        """UTF-8 of the longest prefix of ``data`` made of whole characters, and its length.

        Raises UnicodeDecodeError (``start`` relative to ``data``) at an invalid sequence, or at
        a character cut off by the end of the input when ``final``."""
        lib = self._lib
        if self._cd is None:
            raise ValueError("iconv handle already closed")
        # GBK/GB18030 to UTF-8 grows at most 1.5x (two bytes -> three); four-byte stays four.
        cap = len(data) * 3 // 2 + 8
        if self._out is None or len(self._out) < cap:
            self._out = ctypes.create_string_buffer(cap)
        out = self._out
        # Plain addresses (no ctypes.cast, whose reference cycles keep buffers until a GC).
        data_ref = ctypes.c_char_p(data)  # points into ``data`` itself, no copy
        in_ptr = ctypes.c_void_p(ctypes.c_void_p.from_buffer(data_ref).value)
        in_left = ctypes.c_size_t(len(data))
        out_ptr = ctypes.c_void_p(ctypes.addressof(out))
        out_left = ctypes.c_size_t(cap)
        res = lib.iconv(
            self._cd,
            ctypes.byref(in_ptr),
            ctypes.byref(in_left),
            ctypes.byref(out_ptr),
            ctypes.byref(out_left),
        )
        consumed = len(data) - in_left.value
        if res == ctypes.c_size_t(-1).value:
            err = ctypes.get_errno()
            if err == errno.EILSEQ or (err == errno.EINVAL and final):
                lib.iconv(self._cd, None, None, None, None)  # reset the shift state
                why = "illegal multibyte sequence" if err == errno.EILSEQ else "incomplete"
                raise UnicodeDecodeError(self.encoding, data, consumed, consumed + 1, why)
            if err != errno.EINVAL:  # E2BIG cannot happen with the capacity above
                raise OSError(err, f"iconv from {self.encoding} failed")
        return ctypes.string_at(out, cap - out_left.value), consumed

    def close(self) -> None:
        if self._cd is not None:
            self._lib.iconv_close(self._cd)
            self._cd = None


@cache
def iconv_usable(encoding: str) -> bool:
    """Whether iconv exists for ``encoding`` and decodes the probe exactly as Python does."""
    if encoding not in ICONV_NAMES:
        return False
    try:
        conv = _Iconv(encoding)
    except (OSError, AttributeError):
        return False
    try:
        probe = _PROBE if encoding == "gb18030" else _PROBE.replace("𠀀", "").replace("€", "")
        raw = probe.encode(encoding)
        out, consumed = conv.convert(raw, final=True)
        return consumed == len(raw) and out == probe.encode("utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    finally:
        conv.close()


class Utf8Stream(io.RawIOBase):
    """A file in GBK or GB18030 read as UTF-8 bytes (``iconv`` or Python's codec)."""

    def __init__(self, path: Path, encoding: str, chunk_bytes: int = 4 << 20) -> None:
        super().__init__()
        self.encoding = codecs.lookup(encoding).name
        self._iconv = _Iconv(self.encoding) if iconv_usable(self.encoding) else None
        self._f = path.open("rb")
        self._chunk = chunk_bytes
        self._carry = b""
        self._offset = 0  # file offset of the first byte of ``_carry``
        self._out = b""
        self._pos = 0
        self._eof = False
        self._lock = threading.Lock()  # one reader at a time; close waits for a running read

    def readable(self) -> bool:
        return True

    def _python(self, data: bytes, final: bool) -> tuple[bytes, int]:
        # Cut after the last newline: that byte never occurs inside a multi-byte character.
        cut = len(data) if final else data.rfind(b"\n") + 1
        return data[:cut].decode(self.encoding).encode("utf-8"), cut

    def _fill(self) -> None:
        while self._pos >= len(self._out) and not self._eof:
            raw = self._f.read(self._chunk)
            self._eof = not raw
            data = self._carry + raw if self._carry else raw
            convert = self._iconv.convert if self._iconv is not None else self._python
            try:
                out, consumed = convert(data, self._eof)
            except UnicodeDecodeError as exc:
                raise UnicodeDecodeError(
                    exc.encoding, b"", self._offset + exc.start, self._offset + exc.end, exc.reason
                ) from None
            self._carry = data[consumed:]
            self._offset += consumed
            self._out, self._pos = out, 0

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            if self.closed:
                raise ValueError("read of a closed Utf8Stream")
            return self._read(size)

    def _read(self, size: int) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        parts = []
        while size > 0:
            self._fill()
            out = self._out[self._pos : self._pos + size]
            if not out:
                break
            self._pos += len(out)
            size -= len(out)
            parts.append(out)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        with self._lock:
            if self._iconv is not None:
                self._iconv.close()
                self._iconv = None
            self._f.close()
            super().close()
