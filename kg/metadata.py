"""Frontmatter: split with python-frontmatter, load YAML safely, coerce values onto the Note schema.

YAML is loaded with a BaseLoader subclass, so every scalar stays a string (no YAML 1.1 surprises
such as `no` -> False, `1.10` -> 1.1, dates as objects) and unknown tags such as
`!!python/object` construct nothing. Problems are returned, never printed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import frontmatter
import yaml

from kg.model import FRONTMATTER_KEYS

_HANDLER = frontmatter.YAMLHandler()


class _StringLoader(yaml.BaseLoader):
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
    loaded, problems = _load(fm)
    if loaded is None:
        return {}, text, problems
    return loaded, body, problems


def _load(fm: str) -> tuple[dict[str, Any] | None, list[str]]:
    problems: list[str] = []
    try:
        loader = _StringLoader(fm)
        loader.unknown_tags = []
        try:
            value = loader.get_single_data()
        finally:
            loader.dispose()
        if loader.unknown_tags:
            tags = ", ".join(sorted(set(loader.unknown_tags)))
            problems.append(f"frontmatter uses YAML tags kg does not run ({tags}); read as plain values")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
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


_LINE = re.compile(r"^\s*([^\s:：#][^:：]{0,40}?)\s*[:：]\s*(.*?)\s*$")


def _lenient(fm: str) -> dict[str, Any]:
    """Recover `key: value` lines from frontmatter YAML refused (e.g. `title: 对比: A vs B`, `标题：x`)."""
    out: dict[str, Any] = {}
    for line in fm.splitlines():
        match = _LINE.match(line)
        if match and match.group(1).strip() in FRONTMATTER_KEYS:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[match.group(1).strip()] = value
    return out


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
        if field in ("date", "updated"):
            parsed = parse_date(value)
            if parsed is None and _text(value):
                problems.append(f"`{key}: {_text(value)}` is not a date kg understands; left it out")
            fields[field] = parsed
        elif field in ("authors", "tags", "aliases", "broader"):
            fields[field] = tuple(_strings(value, split_commas=field not in ("aliases", "broader")))
        else:
            text = _text(value)
            fields[field] = text or None
    return fields, problems


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value).strip()
    if isinstance(value, dict):
        return ""
    return str(value).strip()


def _strings(value: Any, *, split_commas: bool) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        text = _text(item)
        parts = re.split(r"\s*[,，、;；]\s*", text) if split_commas else [text]
        for part in parts:
            part = part.strip().lstrip("#").strip()
            if part and part not in out:
                out.append(part)
    return out


_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


def parse_date(value: Any) -> str | None:
    """An ISO date from `2025-03-26`, `2025/3/26`, `2025年3月26日`, datetimes; None when impossible."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    match = _DATE.match(_text(value))
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        return None
