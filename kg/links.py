"""Obsidian wiki-links: `[[target]]`, `[[target|label]]`, `[[target#heading]]`, `![[embed]]`."""

from __future__ import annotations

import html
import re

from kg.model import WikiLink

# The one wiki-link pattern of kg. Targets cannot contain brackets or newlines.
WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")


def parse_links(text: str) -> list[WikiLink]:
    """Every wiki-link in `text`, in order of appearance (duplicates kept)."""
    links = []
    for match in WIKILINK.finditer(text):
        link = parse_link(match.group(2), embed=bool(match.group(1)))
        if link is not None:
            links.append(link)
    return links


def parse_link(inner: str, *, embed: bool = False) -> WikiLink | None:
    """Parse the text between `[[` and `]]`; None when no target remains."""
    inner = html.unescape(inner)
    label = None
    # In tables the pipe is escaped as `\|`.
    inner = inner.replace("\\|", "|")
    if "|" in inner:
        inner, label = inner.split("|", 1)
        label = label.strip() or None
    heading = None
    if "#" in inner:
        inner, heading = inner.split("#", 1)
        heading = heading.strip() or None
    target = inner.strip().replace("\\", "/")
    if target.startswith("./"):
        target = target[2:]
    if not target:
        return None
    return WikiLink(target=target, label=label, heading=heading, embed=embed)
