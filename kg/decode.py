"""Bytes to text: BOMs, UTF-8, UTF-16 without a BOM, then GB18030/GBK and other legacy encodings.

Returns text with `\n` line ends only and without control characters that no output format can
carry (XML forbids them, Turtle and HTML mangle them). What was repaired is reported, never
hidden; a file that is really binary raises BinaryFileError.

Why GB18030 is tried before charset-normalizer: on short Chinese texts (a few hundred characters)
charset-normalizer often answers Big5, CP949 or UTF-16; GB18030 is the encoding old Chinese Windows
tools wrote, and when a file that is not UTF-8 decodes cleanly as GB18030 into common (GB2312)
characters, that is almost always what it is. charset-normalizer still decides for the rest, and
overrules GB18030 when it rates that reading as clearly messier (EUC-KR Korean, for instance).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Heuristics look at this much of a file; decoding always covers all of it.
SAMPLE_BYTES = 1 << 16

# Characters no output can carry: C0 controls but tab and newline, DEL, and the non-characters
# U+FFFE/U+FFFF. Carriage returns are line ends and are converted before this runs.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")

# A text with more control characters than this share of its characters (and more than a few) is
# binary; a handful of stray ones in a note are removed and reported instead.
_BINARY_CONTROL_SHARE = 0.05
_STRAY_CONTROLS = 8
_STRAY_NUL_SHARE = 0.01

# Share of the ideographs of a GB18030 reading that must be GB2312 (common) characters. Big5 or
# Shift-JIS bytes read as GB18030 give rare ideographs and private-use characters instead.
_GB2312_SHARE = 0.8

# How much messier (charset-normalizer's chaos, 0..1) the GB18030 reading must be than another for
# that one to win. Measured: short GBK snippets of the sample corpus differ by at most 0.07 from
# charset-normalizer's favourite, EUC-KR Korean by about 0.09.
_CLEARLY_MESSIER = 0.08

_HIGH_BYTES = bytes(range(0x80, 0x100))

_IDEOGRAPH_OR_PRIVATE = re.compile("[\u3400-\u9fff\uf900-\ufaff\ue000-\uf8ff]")
_CHINESE_PUNCTUATION = re.compile("[\u2010-\u206f\u3000-\u303f\uff00-\uffef]")


class BinaryFileError(ValueError):
    """The bytes are not text in any encoding kg can recognise."""


@dataclass(frozen=True)
class Decoded:
    """A decoded note: its text, the encoding it was read in, and what had to be repaired."""

    text: str
    encoding: str
    repairs: tuple[str, ...] = ()


def decode(raw: bytes) -> Decoded:
    """Decode note bytes into text with `\\n` line ends; raise BinaryFileError for binary files."""
    text, encoding, repairs = _decode(raw)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _looks_binary(text[:SAMPLE_BYTES]):
        raise BinaryFileError(f"decodes as {encoding} but is mostly control characters (a binary file)")
    text, removed = _CONTROL.subn("", text)
    if removed:
        repairs.append(f"contains {removed} control character(s) that are not text; removed them")
    return Decoded(text=text, encoding=encoding, repairs=tuple(repairs))


def _decode(raw: bytes) -> tuple[str, str, list[str]]:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding, []
            except UnicodeDecodeError as exc:
                raise BinaryFileError(f"starts with a {encoding} byte-order mark but does not decode ({exc.reason})") from exc
    if b"\x00" in raw:
        return _decode_with_nuls(raw)
    try:
        return raw.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    damaged = _mostly_utf8(raw)
    if damaged is not None:
        return damaged
    return _decode_legacy(raw)


def _decode_with_nuls(raw: bytes) -> tuple[str, str, list[str]]:
    """UTF-16 without a byte-order mark, text with stray NULs or NUL padding (a crashed save), or binary.

    Stray NULs are rescued only when they are rare (or all at the end) and the rest is UTF-8 or
    GB18030 text: a PNG or a zip has NULs everywhere and bytes that are neither.
    """
    utf16 = _utf16_without_bom(raw)
    if utf16 is not None:
        return utf16
    rest = raw.replace(b"\x00", b"")
    nuls = len(raw) - len(rest)
    padding = rest == raw.rstrip(b"\x00")
    if rest and (padding or nuls <= _STRAY_NUL_SHARE * len(raw)):
        repair = f"{'ends with' if padding else 'contains'} {nuls} NUL bytes; removed them"
        try:
            return rest.decode("utf-8"), "utf-8", [repair]
        except UnicodeDecodeError:
            text = _gb18030(rest)
            if text is not None:
                return text, "gb18030", [repair]
    raise BinaryFileError("contains NUL bytes (a binary file)")


def _utf16_without_bom(raw: bytes) -> tuple[str, str, list[str]] | None:
    """ASCII in UTF-16 puts a NUL in every other byte: in odd places for LE, even places for BE."""
    if len(raw) % 2:
        return None
    sample = raw[:SAMPLE_BYTES]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) < 0.9 * (even + odd):
        return None
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return None
    if _looks_binary(text[:SAMPLE_BYTES]):
        return None
    return text, encoding, []


def _mostly_utf8(raw: bytes) -> tuple[str, str, list[str]] | None:
    """UTF-8 with a few broken sequences (a truncated character, a stray byte) stays UTF-8.

    Text in a legacy encoding breaks at nearly every non-ASCII character; UTF-8 with damage breaks
    rarely. Broken sequences become U+FFFD and are reported.
    """
    text = raw.decode("utf-8", "replace")
    broken = text.count("\ufffd") - raw.count("\ufffd".encode())
    high = len(raw) - len(raw.translate(None, _HIGH_BYTES))
    if broken * 60 > high:
        return None
    return text, "utf-8", [f"has {broken} byte sequence(s) that are not UTF-8; replaced them with U+FFFD"]


def _decode_legacy(raw: bytes) -> tuple[str, str, list[str]]:
    sample = raw[:SAMPLE_BYTES]
    from charset_normalizer import from_bytes  # only for files that are not UTF-8: a few hundredths of a second to import

    results = from_bytes(sample)
    best = results.best()
    gb18030 = _gb18030(raw)
    if gb18030 is not None:
        rated = next((m for m in results if m.encoding == "gb18030"), None)
        clearly_messier = best is not None and rated is not None and rated.chaos > best.chaos + _CLEARLY_MESSIER
        if not clearly_messier:
            return gb18030, "gb18030", []
    if best is None or best.encoding is None:
        raise BinaryFileError("is neither UTF-8 nor any encoding charset-normalizer recognises")
    encoding = "gb18030" if best.encoding in {"gb2312", "gbk"} else best.encoding
    try:
        return raw.decode(encoding), encoding, []
    except (UnicodeDecodeError, LookupError) as exc:
        raise BinaryFileError(f"looks like {encoding} but does not decode ({exc})") from exc


def _gb18030(raw: bytes) -> str | None:
    """The GB18030 reading of `raw` when it decodes and reads as common Chinese characters."""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    sample = text[:SAMPLE_BYTES]
    ideographs = [c for c in sample if _IDEOGRAPH_OR_PRIVATE.match(c)]
    if not ideographs:  # only punctuation, as in `，。`: every non-ASCII character must be Chinese punctuation
        wide = [c for c in sample if ord(c) > 0x7F]
        plausible = bool(wide) and all(_CHINESE_PUNCTUATION.match(c) and _is_gb2312(c) for c in wide)
        return text if plausible else None
    common = sum(1 for c in ideographs if _is_gb2312(c))
    return text if common >= _GB2312_SHARE * len(ideographs) else None


def _is_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _looks_binary(sample: str) -> bool:
    if not sample:
        return False
    controls = len(_CONTROL.findall(sample))
    return controls > max(_STRAY_CONTROLS, _BINARY_CONTROL_SHARE * len(sample))
