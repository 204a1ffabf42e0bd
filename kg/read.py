"""Read a vault: walk the folder, decode each note, split its frontmatter, find its wiki-links.

No NLP here. Every file that cannot be read fully produces a Problem naming it; nothing is
dropped silently.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from kg.decode import BinaryFileError, decode
from kg.errors import VaultError
from kg.links import parse_links
from kg.metadata import coerce, split
from kg.model import ARTICLE, NOTE_SUFFIXES, SKIPPED_FOLDERS, TOPIC, Note, is_topic_type, Problem, WikiLink

# Notes larger than this are reported and skipped: nobody clips a 64 MB article.
MAX_NOTE_BYTES = 64 * 1024 * 1024


def walk(root: Path) -> tuple[list[Path], list[Problem]]:
    """Every note file under `root`, sorted by vault-relative path; symlinks leaving it are not followed."""
    if not root.exists():
        raise VaultError(f"{root}: no such folder")
    if not root.is_dir():
        raise VaultError(f"{root}: is a file, not a vault folder")
    real_root = root.resolve()
    found: list[Path] = []
    problems: list[Problem] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            if name.startswith(".") or name in SKIPPED_FOLDERS:
                continue
            if (here / name).is_symlink():
                problems.append(Problem(_rel(root, here / name), "is a symbolic link to a folder", "not followed"))
                continue
            kept.append(name)
        dirs[:] = kept
        for name in files:
            if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES):
                continue
            path = here / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root) or not target.is_file():
                    problems.append(Problem(_rel(root, path), "is a symbolic link leading outside the vault or nowhere", "skipped"))
                    continue
            found.append(path)
    found.sort(key=lambda p: _rel(root, p))
    return found, problems


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_note(root: Path, path: Path) -> tuple[Note | None, list[Problem]]:
    """Read one file into a Note (kind provisional: ARTICLE or TOPIC by its own metadata)."""
    rel = _rel(root, path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTE_BYTES:
            return None, [Problem(rel, f"is {size // (1024 * 1024)} MB, over the {MAX_NOTE_BYTES // (1024 * 1024)} MB limit for a note", "skipped", "error")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(rel, f"cannot be read ({exc.strerror or exc})", "skipped", "error")]
    try:
        text, encoding = decode(raw)
    except BinaryFileError as exc:
        return None, [Problem(rel, str(exc), "skipped", "error")]
    problems = []
    if encoding not in ("utf-8", "utf-8-sig"):
        problems.append(Problem(rel, f"is encoded in {encoding}, not UTF-8", "decoded it", "info"))
    text = unicodedata.normalize("NFC", text)
    raw_meta, body, meta_problems = split(text)
    fields, value_problems = coerce(raw_meta)
    for message in meta_problems + value_problems:
        what, _, action = message.partition("; ")
        problems.append(Problem(rel, what, action or "went on"))
    stem = Path(rel).stem
    title = fields.pop("title", None) or stem
    kind = TOPIC if is_topic_type(fields.get("type")) else ARTICLE
    note = Note(path=rel, title=title, kind=kind, body=body, links=tuple(parse_links(body)), encoding=encoding, **fields)
    return note, problems


def has_article_metadata(note: Note) -> bool:
    return bool(note.date or note.authors or note.url or note.source)


def read_vault(root: Path) -> tuple[list[Note], list[Problem]]:
    """Read every note of the vault and settle each note's kind."""
    paths, problems = walk(root)
    notes: list[Note] = []
    for path in paths:
        note, note_problems = read_note(root, path)
        problems += note_problems
        if note is not None:
            notes.append(note)
    return classify(notes), problems


def classify(notes: list[Note]) -> list[Note]:
    """Settle kinds: a note with no article metadata that other notes link to is a topic."""
    index = LinkIndex(notes)
    linked: set[str] = set()
    for note in notes:
        for link in note.links:
            target = index.resolve(link)
            if target is not None and target != note.path:
                linked.add(target)
    out = []
    for note in notes:
        if not is_topic_type(note.type) and note.kind == ARTICLE and not has_article_metadata(note) and note.path in linked:
            note = replace(note, kind=TOPIC)
        out.append(note)
    return out


class LinkIndex:
    """Resolves wiki-link targets to vault paths as Obsidian does: by path, else by unique name."""

    def __init__(self, notes: Iterable[Note]) -> None:
        self._by_path: dict[str, str] = {}
        by_name: dict[str, list[str]] = {}
        for note in notes:
            bare = _strip_suffix(note.path).lower()
            self._by_path[bare] = note.path
            self._by_path[note.path.lower()] = note.path
            by_name.setdefault(bare.rsplit("/", 1)[-1], []).append(note.path)
        self._by_name = {name: sorted(paths)[0] for name, paths in by_name.items()}
        self._ambiguous = {name for name, paths in by_name.items() if len(paths) > 1}

    def resolve(self, link: WikiLink) -> str | None:
        target = unicodedata.normalize("NFC", link.target).lower().lstrip("/")
        hit = self._by_path.get(target) or self._by_path.get(_strip_suffix(target))
        if hit:
            return hit
        # Obsidian picks the shortest path among notes of the same name; sorted order is our tie-break.
        return self._by_name.get(_strip_suffix(target).rsplit("/", 1)[-1])


def _strip_suffix(path: str) -> str:
    lower = path.lower()
    for suffix in NOTE_SUFFIXES:
        if lower.endswith(suffix):
            return path[: -len(suffix)]
    return path
