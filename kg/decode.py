"""Bytes to text: BOMs, UTF-8, then detection for legacy encodings (GBK/GB18030, Big5, ...).

Returns text with `\n` line ends only. A file that is really binary raises BinaryFileError.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class BinaryFileError(ValueError):
    """The bytes are not text in any encoding kg can recognise."""


def decode(raw: bytes) -> tuple[str, str]:
    """Decode note bytes; return (text with \\n line ends, encoding name)."""
    text, encoding = _decode(raw)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _decode(raw: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise BinaryFileError(f"starts with a {encoding} byte-order mark but does not decode ({exc.reason})") from exc
    if b"\x00" in raw[:8192]:
        raise BinaryFileError("contains NUL bytes (a binary file)")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(raw[: 1 << 20]).best()
    if best is None or best.encoding is None:
        raise BinaryFileError("is neither UTF-8 nor any encoding charset-normalizer recognises")
    encoding = best.encoding
    if encoding in {"gb2312", "gbk"}:
        encoding = "gb18030"  # the superset decodes everything its subsets do
    try:
        return raw.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise BinaryFileError(f"looks like {encoding} but does not decode ({exc})") from exc
