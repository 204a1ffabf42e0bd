"""Prose out of Markdown: blank out what is not prose, keeping every offset into the note body.

Image links, URLs, HTML tags, code, wiki-links' brackets and the trailing link lists are replaced
by spaces of the same length, so a mention's offsets in the cleaned text are offsets in Note.body.
"""

from __future__ import annotations

import re
from bisect import bisect_left

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


_NOT_NEWLINE = re.compile(r"[^\n]+")


def _blank(text: str) -> str:
    return _NOT_NEWLINE.sub(lambda m: " " * len(m.group()), text)


def clean(body: str) -> str:
    """`body` with non-prose spans blanked; same length as `body`, newlines kept."""
    view = body
    cut = LINK_SECTIONS.search(view)
    if cut is not None:
        view = view[: cut.start()] + _blank(view[cut.start():])
    for pattern in _NON_PROSE:
        view = pattern.sub(lambda m: _blank(m.group()), view)
    return view


_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s)|…")
_TRIM = "。！？!?；;.…"

MAX_SENTENCE = 240


class Sentences:
    """Sentence boundaries of one text, found once; `around` gives the sentence of a span."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [m.start() for m in _SENTENCE_END.finditer(text)]

    def around(self, start: int, end: int) -> str:
        """The sentence around [start, end), whitespace folded; a run-on one is cut to MAX_SENTENCE around the name."""
        i = bisect_left(self.ends, start)
        left = self.ends[i - 1] + 1 if i > 0 else 0
        j = bisect_left(self.ends, end)
        right = self.ends[j] if j < len(self.ends) else len(self.text)
        if right - left > MAX_SENTENCE:  # a run-on "sentence": a window centred on the name
            left = max(left, start - (MAX_SENTENCE - (end - start)) // 2)
            right = min(right, max(end, left + MAX_SENTENCE))
        if right < len(self.text) and self.text[right] in _TRIM:
            right += 1
        sentence = " ".join(self.text[left:right].split())
        sentence = sentence.lstrip("*#>-·• ").strip()
        return sentence
