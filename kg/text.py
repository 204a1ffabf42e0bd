"""Prose out of Markdown: blank out what is not prose, keeping every offset into the note body.

Image links, URLs, HTML tags, code, wiki-links' brackets and the trailing link lists are replaced
by spaces of the same length, so a mention's offsets in the cleaned text are offsets in Note.body.
"""

from __future__ import annotations

import re

# Trailing sections that only list links (关联主题, 相关词条, References ...).
LINK_SECTIONS = re.compile(r"^#{1,6}\s*(关联主题|相关主题|相关词条|相关文档|相关文章|相关阅读|延伸阅读|相关链接|参考链接|参考资料|参考文献|引用|links|related|references|see also)\s*$", re.I | re.M)

_NON_PROSE = [
    re.compile(r"```.*?(?:```|\Z)", re.S),  # fenced code
    re.compile(r"~~~.*?(?:~~~|\Z)", re.S),
    re.compile(r"<!--.*?(?:-->|\Z)", re.S),  # HTML comments
    re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)"),  # images
    re.compile(r"(?<=\])\([^)\s\n]*\)"),  # link targets of [text](url)
    re.compile(r"<[A-Za-z/!][^<>\n]{0,500}>"),  # HTML tags
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"(?:https?|ftp)://[^\s)\]}>\"'，。、）】]+|www\.[^\s)\]}>\"'，。、）】]+", re.I),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail addresses
    re.compile(r"\[\[[^\[\]\n]*\]\]"),  # wiki-links: topics, not prose
]


def clean(body: str) -> str:
    """`body` with non-prose spans blanked; same length as `body`."""
    chars = list(body)
    cut = LINK_SECTIONS.search(body)
    if cut is not None:
        for i in range(cut.start(), len(chars)):
            if chars[i] != "\n":
                chars[i] = " "
        body_view = "".join(chars)
    else:
        body_view = body
    for pattern in _NON_PROSE:
        for match in pattern.finditer(body_view):
            for i in range(match.start(), match.end()):
                if chars[i] != "\n":
                    chars[i] = " "
        body_view = "".join(chars)
    return body_view


_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s)|…{1,2}")

MAX_SENTENCE = 240


def sentence_at(text: str, start: int, end: int) -> str:
    """The sentence of `text` around [start, end), stripped and at most MAX_SENTENCE characters."""
    left = start
    while left > 0 and start - left < MAX_SENTENCE and not _SENTENCE_END.match(text, left - 1):
        left -= 1
    right = end
    while right < len(text) and right - end < MAX_SENTENCE and not _SENTENCE_END.match(text, right):
        right += 1
    if right < len(text) and text[right] in "。！？!?；;.…":
        right += 1
    sentence = " ".join(text[left:right].split())
    sentence = sentence.lstrip("*#>-·• ").strip()
    if len(sentence) > MAX_SENTENCE:
        sentence = sentence[:MAX_SENTENCE] + "…"
    return sentence
