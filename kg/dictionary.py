"""The entity dictionary: curated YAML files under kg/data/ plus any the user adds.

File format (a YAML list; the kind comes from the file name or an explicit `kind:`):

    - name: GPT-4o                 # canonical name
      aliases: [GPT4o, ChatGPT-4o]  # other spellings (case, width and separators never matter)
      makers: [OpenAI]              # products: canonical names of their makers
      family: GPT-4                 # products: the family this is a version of
      case_sensitive: true          # optional: the name is also a common word (Meta, Cursor); skip `meta`
      needs_context: true           # optional: a common Chinese word too (联想, 苹果): count it only next to
                                    # a cue (公司, 发布, 手机, 的 + a product) or when another spelling is used

`kg/data/noise.txt` lists words that are never entities.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from kg.errors import DictionaryError
from kg.model import ENTITY_KINDS, ORGANIZATION, PERSON, PRODUCT
from kg.normalize import name_key

# libyaml's safe loader when PyYAML was built with it: the shipped files load in a fraction of the time.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_KIND_BY_FILE = {"products": PRODUCT, "organizations": ORGANIZATION, "people": PERSON}


@dataclass(frozen=True)
class Entry:
    """One dictionary entity."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    makers: tuple[str, ...] = ()
    family: str | None = None
    case_sensitive: bool = False  # a common word too (Meta, Cursor): never matched in all lower case
    needs_context: bool = False  # a common Chinese word too (联想, 苹果): counted only with a cue nearby


@dataclass(frozen=True)
class Dictionary:
    """All known entities and noise words; `digest` changes whenever any of it does."""

    entries: tuple[Entry, ...]
    noise: frozenset[str]
    digest: str
    by_key: dict[tuple[str, str], Entry] = field(default_factory=dict, compare=False, hash=False)

    def lookup(self, kind: str, name: str) -> Entry | None:
        return self.by_key.get((kind, name_key(name)))

    def spellings(self) -> list[tuple[str, Entry]]:
        """Every (spelling, entry) pair, canonical names first."""
        out = []
        for entry in self.entries:
            out.append((entry.name, entry))
            out.extend((alias, entry) for alias in entry.aliases)
        return out


def load_dictionary(extra: tuple[Path, ...] = ()) -> Dictionary:
    """The shipped dictionary merged with the user's files (later files extend earlier entries)."""
    sources, noise_text = _sources(extra)
    merged: dict[tuple[str, str], Entry] = {}
    for label, text, default_kind in sources:
        for entry in _parse(label, text, default_kind):
            key = (entry.kind, name_key(entry.name))
            old = merged.get(key)
            if old is not None:
                entry = Entry(
                    name=old.name,
                    kind=old.kind,
                    aliases=tuple(dict.fromkeys(old.aliases + entry.aliases + ((entry.name,) if entry.name != old.name else ()))),
                    makers=tuple(dict.fromkeys(old.makers + entry.makers)),
                    family=old.family or entry.family,
                    case_sensitive=old.case_sensitive or entry.case_sensitive,
                    needs_context=old.needs_context or entry.needs_context,
                )
            merged[key] = entry
    entries = tuple(sorted(merged.values(), key=lambda e: (e.kind, e.name)))
    by_key: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        for spelling in (entry.name, *entry.aliases):
            by_key.setdefault((entry.kind, name_key(spelling)), entry)
    noise = frozenset(
        name_key(line.split("#", 1)[0].strip()) for line in noise_text.splitlines() if line.split("#", 1)[0].strip()
    )
    return Dictionary(entries=entries, noise=noise, digest=_digest(sources, noise_text), by_key=by_key)


def dictionary_digest(extra: tuple[Path, ...] = ()) -> str:
    """`load_dictionary(extra).digest`, from the files' texts alone (nothing parsed)."""
    return _digest(*_sources(extra))


def _sources(extra: tuple[Path, ...]) -> tuple[list[tuple[str, str, str]], str]:
    """(label, text, default kind) of every dictionary file, shipped ones first, and the noise list's text."""
    sources: list[tuple[str, str, str]] = []
    data = resources.files("kg") / "data"
    for stem, kind in sorted(_KIND_BY_FILE.items()):
        resource = data / f"{stem}.yaml"
        if resource.is_file():
            sources.append((f"kg/data/{stem}.yaml", resource.read_text(encoding="utf-8"), kind))
    for path in extra:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DictionaryError(f"{path}: cannot be read ({exc})") from exc
        sources.append((str(path), text, _KIND_BY_FILE.get(Path(path).stem, "")))
    noise_resource = data / "noise.txt"
    return sources, noise_resource.read_text(encoding="utf-8") if noise_resource.is_file() else ""


def _digest(sources: list[tuple[str, str, str]], noise_text: str) -> str:
    digest = hashlib.sha256(noise_text.encode())
    for label, text, _kind in sources:
        digest.update(label.encode() + b"\0" + text.encode())
    return digest.hexdigest()[:16]


def _parse(label: str, text: str, default_kind: str) -> list[Entry]:
    try:
        items = yaml.load(text, Loader=_SAFE_LOADER) or []
    except yaml.YAMLError as exc:
        raise DictionaryError(f"{label}: not valid YAML ({exc})") from exc
    if isinstance(items, dict):  # {products: [...], organizations: [...]} is accepted too
        flat = []
        for group, values in items.items():
            kind = _KIND_BY_FILE.get(str(group), str(group))
            flat.extend({**v, "kind": v.get("kind", kind)} for v in values or [] if isinstance(v, dict))
        items = flat
    if not isinstance(items, list):
        raise DictionaryError(f"{label}: must be a YAML list of entries")
    out = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise DictionaryError(f"{label}: entry {number} has no `name`")
        kind = str(item.get("kind") or default_kind)
        if kind not in ENTITY_KINDS:
            raise DictionaryError(f"{label}: entry {number} ({item['name']}) has kind {kind!r}; use one of {', '.join(ENTITY_KINDS)}")
        out.append(
            Entry(
                name=str(item["name"]).strip(),
                kind=kind,
                aliases=tuple(str(a).strip() for a in _list(item.get("aliases")) if str(a).strip()),
                makers=tuple(str(m).strip() for m in _list(item.get("makers")) if str(m).strip()),
                family=str(item["family"]).strip() if item.get("family") else None,
                case_sensitive=bool(item.get("case_sensitive", False)),
                needs_context=bool(item.get("needs_context", False)),
            )
        )
    return out


def _list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
