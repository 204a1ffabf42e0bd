"""decode: BOMs, UTF-16 without a BOM, GBK/GB18030 of every length, legacy encodings, binary files, repairs."""

from __future__ import annotations

import codecs
import random

import pytest
from conftest import need_corpus
from hostile import SENTENCES

from kg.decode import BinaryFileError, decode

NOTE = "---\ntitle: 测试笔记\n作者: [甲, 乙]\n---\n" + "\n\n".join(SENTENCES) + "\n"


@pytest.mark.parametrize(
    "bom, codec, name",
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    ],
)
def test_byte_order_marks(bom, codec, name):
    decoded = decode(bom + NOTE.encode(codec))
    assert (decoded.text, decoded.encoding, decoded.repairs) == (NOTE, name, ())


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(codec):
    decoded = decode(NOTE.encode(codec))
    assert (decoded.text, decoded.encoding) == (NOTE, codec)


def test_line_ends_become_newlines():
    assert decode(b"a\r\nb\rc\n\r\n").text == "a\nb\nc\n\n"
    assert decode(NOTE.replace("\n", "\r\n").encode("gbk")).text == NOTE


def wide(text: str) -> int:
    return sum(1 for c in text if ord(c) > 0x7F)


def test_gbk_of_every_length_from_three_characters():
    """Every slice of a Chinese text with three or more Chinese characters, GBK-encoded, reads back exactly.

    One or two characters can form valid UTF-8 by chance (`一` is D2 BB in GBK, which is UTF-8 for
    the Cyrillic `һ`) and are then read as UTF-8; that limit is documented in the README.
    """
    text = "".join(SENTENCES)
    for n in range(3, len(text) + 1):
        for start in range(len(text) - n + 1):
            piece = text[start : start + n]
            if wide(piece) < 3:
                continue
            decoded = decode(piece.encode("gbk"))
            assert (decoded.text, decoded.encoding) == (piece, "gb18030"), piece


def test_gbk_notes_with_frontmatter_of_any_length():
    for n in range(1, 200):
        note = "---\ntitle: 笔记\n---\n" + "".join(SENTENCES)[:n]
        assert decode(note.encode("gbk")).text == note


def test_gb18030_characters_outside_gbk():
    note = "---\ntitle: 生僻字𠀀和表情😀\n---\n" + SENTENCES[0]
    decoded = decode(note.encode("gb18030"))
    assert (decoded.text, decoded.encoding) == (note, "gb18030")


@pytest.mark.corpus
def test_real_notes_in_gbk_at_many_lengths():
    corpus = need_corpus()
    paths = sorted(corpus.rglob("*.md"))
    rng = random.Random(7)
    checked = 0
    for path in rng.sample(paths, min(120, len(paths))):
        text = path.read_text(encoding="utf-8")
        for n in (20, 60, 200, 1000, 5000, len(text)):
            start = rng.randrange(0, max(1, len(text) - n))
            piece = text[start : start + n]
            try:
                raw = piece.encode("gbk")
            except UnicodeEncodeError:  # an emoji or a rare character: GB18030 then
                raw = piece.encode("gb18030")
            if wide(piece) < 3:
                continue
            decoded = decode(raw)
            assert decoded.text == piece.replace("\r\n", "\n"), (path.name, n, decoded.encoding)
            checked += 1
    assert checked > 300


@pytest.mark.parametrize(
    "codec, text",
    [
        ("big5", "這是一個關於人工智慧的測試文章，我們討論語言模型與產品設計。台灣的開發者正在使用這些工具。"),
        ("shift_jis", "これは人工知能についてのテスト記事です。言語モデルと製品設計について議論します。"),
        ("euc_kr", "이것은 인공지능에 관한 테스트 기사입니다. 언어 모델과 제품 디자인에 대해 논의합니다."),
    ],
)
def test_other_legacy_encodings_are_not_taken_for_gbk(codec, text):
    note = "---\ntitle: t\n---\n" + text + "\n"
    decoded = decode(note.encode(codec))
    assert decoded.text == note
    assert decoded.encoding != "gb18030"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)),
        bytes(range(256)) * 4,
        bytes((i * 7) % 31 + 1 for i in range(4000)),  # valid UTF-8 (all ASCII), but control characters
        b"\0" * 100,
        codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone surrogate after a BOM
    ],
)
def test_binary_files_are_refused(raw):
    with pytest.raises(BinaryFileError):
        decode(raw)


def test_stray_control_characters_are_removed_and_reported():
    decoded = decode("标题\x01\n正文\x0b有\x1b控制\ufffe字符\x7f。\t保留制表符\n".encode())
    assert decoded.text == "标题\n正文有控制字符。\t保留制表符\n"
    assert decoded.repairs == ("contains 5 control character(s) that are not text; removed them",)


def test_damaged_utf8_stays_utf8_with_the_damage_reported():
    raw = ("中文" * 50).encode()[:-1] + b"\n" + "尾巴".encode()
    decoded = decode(raw)
    assert decoded.encoding == "utf-8"
    assert decoded.text == "中文" * 49 + "中\ufffd\n尾巴"
    assert decoded.repairs == ("has 1 byte sequence(s) that are not UTF-8; replaced them with U+FFFD",)


def test_nul_padding_after_text_is_removed():
    decoded = decode(NOTE.encode() + b"\0" * 64)
    assert decoded.text == NOTE
    assert decoded.repairs == ("ends with 64 NUL bytes; removed them",)
    gbk = decode(NOTE.encode("gbk") + b"\0" * 3)
    assert (gbk.text, gbk.encoding) == (NOTE, "gb18030")


def test_empty_and_ascii():
    assert decode(b"").text == ""
    assert decode(b"plain").encoding == "utf-8"
