"""Frontmatter: split with python-frontmatter, load YAML safely, coerce values onto the Note schema.

YAML is loaded with a BaseLoader subclass, so every scalar stays a string (no YAML 1.1 surprises
such as `no` -> False, `1.10` -> 1.1, dates as objects) and unknown tags such as
`!!python/object` construct nothing. Problems are returned, never printed.

Bounded work whatever the input: frontmatter over MAX_FRONTMATTER_CHARS is read line by line
instead of by the YAML parser, and flattening values stops after MAX_VALUES items, so an alias
bomb (`&a [x, x], &b [*a, *a], ...`) costs nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import frontmatter
import yaml

from kg.model import FRONTMATTER_KEYS

_HANDLER = frontmatter.YAMLHandler()

# Real frontmatter is a few hundred characters; PyYAML reads about 1 MB/s.
MAX_FRONTMATTER_CHARS = 100_000

# Flattening a value (lists of lists, aliases) stops after this many strings.
MAX_VALUES = 1000


# libyaml's parser when PyYAML has it (about ten times faster), the pure-Python one otherwise;
# the constructor is BaseConstructor either way.
_BASE_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class _StringLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """Safe: strings, lists and mappings only. Unknown tags are read as their plain value."""

    unknown_tags: list[str]


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map"))


def _construct_unknown(loader: _StringLoader, suffix: str, node: yaml.Node) -> Any:
    if node.tag not in _PLAIN_TAGS:
        loader.unknown_tags.append(node.tag)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_StringLoader.add_multi_constructor("", _construct_unknown)
_StringLoader.add_multi_constructor("!", _construct_unknown)
_StringLoader.add_multi_constructor("tag:", _construct_unknown)


def split(text: str) -> tuple[dict[str, Any], str, list[str]]:
    """Split a note into (raw metadata mapping, body, problems).

    A note whose frontmatter cannot be used keeps its whole text as body.
    """
    if not _HANDLER.detect(text):
        return {}, text, []
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        return {}, text, ["starts with `---` but has no closing `---` line; kept the whole text as body"]
    if len(fm) > MAX_FRONTMATTER_CHARS:
        return _lenient(fm), body, [f"frontmatter is {len(fm):,} characters, too long to be YAML; read it line by line"]
    loaded, problems = _load(fm, first_line=text.count("\n", 0, max(text.find(fm), 0)) + 1)
    if loaded is None:
        return {}, text, problems
    return loaded, body, problems


def _load(fm: str, *, first_line: int) -> tuple[dict[str, Any] | None, list[str]]:
    """Load frontmatter YAML; `first_line` (the file's line number of its start) places errors."""
    problems: list[str] = []
    try:
        loader = _StringLoader(fm)
        loader.unknown_tags = []
        try:
            value = loader.get_single_data()
        finally:
            loader.dispose()
        if loader.unknown_tags:
            tags = _shown(", ".join(sorted(set(loader.unknown_tags))))
            problems.append(f"frontmatter uses YAML tags kg does not run ({tags}); read as plain values")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {first_line + mark.line}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        lenient = _lenient(fm)
        if lenient:
            problems.append(f"frontmatter is not valid YAML{where} ({reason}); read it line by line")
            return lenient, problems
        problems.append(f"frontmatter is not valid YAML{where} ({reason}); kept the note without metadata")
        return None, problems
    if value is None:
        return {}, problems
    if not isinstance(value, dict):
        lenient = _lenient(fm)
        if lenient:
            problems.append("frontmatter is not a `key: value` mapping; read it line by line")
            return lenient, problems
        problems.append("frontmatter is not a `key: value` mapping; kept the whole text as body")
        return None, problems
    return {str(k): v for k, v in value.items()}, problems


_LINE = re.compile(r"\s*([^\s:：#][^:：\n]{0,40}?)\s*[:：](.*)")


def _lenient(fm: str) -> dict[str, Any]:
    """Recover `key: value` lines from frontmatter YAML refused (e.g. `title: 对比: A vs B`, `标题：x`).

    A `[a, b]` value becomes a list; quotes around a value are dropped.
    """
    out: dict[str, Any] = {}
    for line in fm.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        key = match.group(1).strip()
        if key.lower() not in FRONTMATTER_KEYS and key not in FRONTMATTER_KEYS:
            continue
        value: Any = _unquote(match.group(2).strip())
        if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
            value = [_unquote(item.strip()) for item in value[1:-1].split(",") if item.strip()]
        out[key] = value
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# ---- coercion -------------------------------------------------------------------------------

def coerce(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map raw frontmatter onto Note fields; return (fields, problems)."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for key in sorted(raw, key=str):
        field = FRONTMATTER_KEYS.get(key.strip().lower()) or FRONTMATTER_KEYS.get(key.strip())
        if field is None or field in fields:
            continue
        value = raw[key]
        if isinstance(value, dict):
            problems.append(f"`{key}` holds a mapping, not text; left it out")
            continue
        if field in ("date", "updated"):
            parsed = parse_date(value)
            if parsed is None and _text(value):
                problems.append(f"`{key}: {_shown(_text(value))}` is not a date kg understands; left it out")
            fields[field] = parsed
        elif field in ("authors", "tags", "aliases", "broader"):
            fields[field] = tuple(_strings(value, split_commas=field not in ("aliases", "broader")))
        else:
            text = _text(value)
            fields[field] = text or None
    return fields, problems


def _shown(text: str) -> str:
    """A value as quoted in a one-line message: short, no line breaks."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:60] + "…"


def _text(value: Any) -> str:
    return " ".join(_flatten(value)).strip()


def _flatten(value: Any) -> list[str]:
    """The strings of a value, depth first, at most MAX_VALUES of them; mappings hold none."""
    out: list[str] = []
    stack = [value]
    while stack and len(out) < MAX_VALUES:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item[:MAX_VALUES]))
        elif item is not None and not isinstance(item, dict):
            out.append(str(item).strip())
    return out


def _strings(value: Any, *, split_commas: bool) -> list[str]:
    out: list[str] = []
    for text in _flatten(value):
        parts = re.split(r"\s*[,，、;；]\s*", text) if split_commas else [text]
        for part in parts:
            part = part.strip().lstrip("#").strip()
            if part and part not in out:
                out.append(part)
    return out


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?", re.S)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_date(value: Any) -> str | None:
    """An ISO date from `2025-03-26`, `2025/3/26`, `2025.3.26`, `2025年3月26日`, `20250326`, datetimes
    (`2025-03-26T08:00:00+08:00`, the date as written); None when there is none or it is impossible."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _text(value)[:100]
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        return None
