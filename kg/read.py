"""Read a vault: walk the folder, decode each note, split its frontmatter, find its wiki-links.

No NLP here. Every file that cannot be read fully produces a Problem naming it; nothing is
dropped silently.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kg.decode import BinaryFileError, decode
from kg.errors import VaultError
from kg.links import parse_links
from kg.metadata import coerce, split
from kg.model import ARTICLE, NOTE_SUFFIXES, SKIPPED_FOLDERS, TOPIC, Note, is_topic_type, Problem, WikiLink

if TYPE_CHECKING:
    from kg.cache import NoteCache

# Notes larger than this are reported and skipped: nobody clips a 64 MB article, and reading one
# takes memory in proportion (about eight times its size while decoding).
MAX_NOTE_BYTES = 64 * 1024 * 1024

_VAULT_HINT = "give the folder that holds your notes (.md, .markdown or .txt files)"


def walk(root: Path) -> tuple[list[Path], list[Problem]]:
    """Every note file under `root`, sorted by vault-relative path, and what could not be walked.

    Hidden and tool folders are skipped. Symbolic links to folders are never followed (no loops, no
    note read twice, nothing outside the vault); a linked file is read only when it is a regular
    file inside the vault.
    """
    found, problems = note_files(root)
    return [Path(path) for path, _stat in found.values()], problems


def note_files(root: Path) -> tuple[dict[str, tuple[str, os.stat_result]], list[Problem]]:
    """What `walk` finds, as each note file's (path, stat) by its vault-relative path, in order
    (one stat a file, as the walk makes it; no Path made: 10,000 of them took 0.03 s, and a
    rebuild's scan reads only the files that changed)."""
    if not root.exists():
        raise _vault_error(f"{root}: no such folder")
    if not root.is_dir():
        raise _vault_error(f"{root}: is a file, not a vault folder")
    real_root = root.resolve()
    found: list[tuple[str, str, os.stat_result]] = []
    problems: list[Problem] = []
    folders = [root]  # depth first, each folder's subfolders in sorted order
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            where = _rel(root, Path(error.filename)) if error.filename else "."
            problems.append(Problem(where, f"folder cannot be read ({error.strerror or error})", "skipped its notes", "error"))
            continue
        kept = []
        for entry in sorted((e for e in entries if _is_dir(e)), key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                continue
            if entry.is_symlink():
                problems.append(_linked_folder(root, real_root, Path(entry.path)))
                continue
            kept.append(Path(entry.path))
        folders.extend(reversed(kept))
        # Most names need no repair (see _rel): then a file's vault path is its folder's and its name.
        prefix = "" if folder == root else _rel(root, folder) + "/"
        plain = folder == root or prefix[:-1] == folder.relative_to(root).as_posix()
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES) or _is_dir(entry):
                continue
            problem, stat_result = _note_file(root, real_root, entry)
            if problem is not None:
                problems.append(problem)
                continue
            rel = prefix + name if plain and not _NAME_REPAIRED.search(name) else _rel(root, Path(entry.path))
            found.append((rel, entry.path, stat_result))
    found.sort(key=lambda item: item[0])
    return {rel: (path, stat_result) for rel, path, stat_result in found}, problems


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows a symbolic link, as os.walk does; the walk then reports it
    except OSError:
        return False


def _vault_error(message: str) -> VaultError:
    error = VaultError(message)
    error.hint = _VAULT_HINT
    return error


def _linked_folder(root: Path, real_root: Path, path: Path) -> Problem:
    rel = _rel(root, path)
    target = _resolve(path)
    if target is None:
        return Problem(rel, "is a symbolic link to a folder that loops or does not exist", "not followed")
    if target.is_relative_to(real_root):
        return Problem(rel, "is a symbolic link to a folder inside the vault", "not followed; its notes are read where they are", "info")
    return Problem(rel, "is a symbolic link to a folder outside the vault", "not followed")


def _note_file(root: Path, real_root: Path, entry: os.DirEntry) -> tuple[Problem | None, os.stat_result | None]:
    """(why the file of `entry`, named like a note, is not read, or None when it is a readable regular file; its stat)."""
    path = entry.path
    if entry.is_symlink():
        path = Path(path)
        target = _resolve(path)
        if target is None:
            return Problem(_rel(root, path), "is a symbolic link that loops or leads nowhere", "skipped"), None
        if not target.is_relative_to(real_root):
            return Problem(_rel(root, path), "is a symbolic link to a file outside the vault", "skipped"), None
    try:
        stat_result = entry.stat()
    except OSError as exc:
        return Problem(_rel(root, Path(path)), f"cannot be read ({exc.strerror or exc})", "skipped", "error"), None
    if not stat.S_ISREG(stat_result.st_mode):
        return Problem(_rel(root, Path(path)), "is not a regular file (a pipe, socket or device)", "skipped"), None
    return None, stat_result


def _resolve(path: Path) -> Path | None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return None
    return target


def _rel(root: Path, path: Path) -> str:
    """The vault-relative POSIX path as kg names the note: valid Unicode that every output can carry.

    A file name that is not UTF-8 (saved by an old Windows tool, unpacked from a GBK zip) arrives with
    surrogate escapes; it is read as GB18030 when that works. Control characters (a newline, an
    escape) become U+FFFD: XML cannot hold them. read_note reports both.
    """
    rel = path.relative_to(root).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(rel)
        try:
            rel = raw.decode("gb18030")
        except UnicodeDecodeError:
            rel = raw.decode("utf-8", "replace")
    return _NAME_CONTROL.sub("\ufffd", rel)


_NAME_CONTROL = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")
_NAME_REPAIRED = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")  # what _rel changes in a name


@dataclass(frozen=True)
class FileState:
    """A note file as a build read it: its stat (size, mtime_ns, ctime_ns, inode) before reading,
    the digest of its bytes (NoteCache.digest; None when it could not be read) and what reading
    it found wrong. kg.delta compares the stat to tell which files changed since."""

    stat: tuple[int, int, int, int] | None
    digest: bytes | None
    problems: tuple[Problem, ...]


def file_stamp(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def read_note(root: Path, path: Path, cache: NoteCache | None = None, files: dict[str, FileState] | None = None) -> tuple[Note | None, list[Problem]]:
    """Read one file into a Note (kind provisional: ARTICLE or TOPIC by its own metadata).

    Returns None only when the file cannot be read as text at all; a note with unusable
    frontmatter is still a note, from its body and file name. Every repair is a Problem.
    With `cache`, a file whose bytes were parsed before (by this code) is not parsed again; with
    `files` too, the file's FileState is put there.
    """
    note, problems, state = _read_note(root, path, cache)
    if files is not None and cache is not None:
        files[state[0]] = FileState(state[1], cache.digests.get(state[0]), tuple(problems))
    return note, problems


def _read_note(root: Path, path: Path, cache: NoteCache | None) -> tuple[Note | None, list[Problem], tuple]:
    rel = _rel(root, path)
    problems = []
    stamp = None
    if rel != path.relative_to(root).as_posix():
        problems.append(Problem(rel, "file name is not UTF-8 or holds control characters", "named the note with GB18030 or U+FFFD"))
    try:
        stat = path.stat()
        stamp = file_stamp(stat)
        size = stat.st_size
        if size > MAX_NOTE_BYTES:
            return None, [Problem(rel, f"is {size // (1024 * 1024)} MB, over the {MAX_NOTE_BYTES // (1024 * 1024)} MB limit for a note", "skipped", "error")], (rel, stamp)
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(rel, f"cannot be read ({exc.strerror or exc})", "skipped", "error")], (rel, stamp)
    if cache is None:
        note, parsed_problems = _parse(rel, raw)
    else:
        digest = cache.digest(raw)
        kept = cache.get(rel, digest)
        note, parsed_problems = kept if kept is not None else _parse(rel, raw)
        if kept is None and note is not None:
            cache.put(rel, digest, (note, parsed_problems))
    if note is None:
        return None, parsed_problems, (rel, stamp)
    return note, problems + parsed_problems, (rel, stamp)


def _parse(rel: str, raw: bytes) -> tuple[Note | None, list[Problem]]:
    """The note in the bytes `raw` of the file `rel`, and the problems met decoding and parsing them."""
    problems: list[Problem] = []
    try:
        decoded = decode(raw)
    except BinaryFileError as exc:
        return None, [Problem(rel, str(exc), "skipped", "error")]
    del raw
    if decoded.encoding not in ("utf-8", "utf-8-sig"):
        problems.append(Problem(rel, f"is encoded in {decoded.encoding}, not UTF-8", "decoded it", "info"))
    for message in decoded.repairs:
        problems.append(_problem(rel, message))
    text = decoded.text
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    raw_meta, body, meta_problems = split(text)
    fields, value_problems = coerce(raw_meta)
    problems += [_problem(rel, message) for message in meta_problems + value_problems]
    stem = Path(rel).stem
    title = fields.pop("title", None) or stem
    kind = TOPIC if is_topic_type(fields.get("type")) else ARTICLE
    note = Note(path=rel, title=title, kind=kind, body=body, links=tuple(parse_links(body)), encoding=decoded.encoding, **fields)
    return note, problems


def _problem(rel: str, message: str) -> Problem:
    """A Problem from a library message written as `what is wrong; what kg did`."""
    what, _, action = message.partition("; ")
    return Problem(rel, what, action or "went on")


_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _one_line(problem: Problem) -> Problem:
    """The problem with control characters (a newline in a file name) shown as escapes: one line each."""
    def escape(text: str) -> str:
        return _LINE_BREAKING.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)

    return replace(problem, path=escape(problem.path), what=escape(problem.what), action=escape(problem.action))


def has_article_metadata(note: Note) -> bool:
    return bool(note.date or note.authors or note.url or note.source)


def read_vault(root: Path, *, cache: NoteCache | None = None, files: VaultFiles | None = None, bodies: bool = True) -> tuple[list[Note], list[Problem]]:
    """Read every note of the vault and settle each note's kind; problems sorted by path.

    Raises VaultError when the vault is missing, is a file, or holds no note that can be read
    (the error then carries the problems, so each unreadable file can still be named). With
    `cache` (kg.cache.NoteCache), unchanged files are not parsed again; the result is the same.
    With `files` (and `cache`), each file's FileState and the walk's problems are put there.
    Without `bodies` (and with `cache`, which keeps them: `cache.bodies()`), the notes come without
    their text, which is never all held.
    """
    if not bodies and cache is None:
        raise ValueError("read_vault: notes without bodies need a NoteCache to keep the bodies")
    paths, problems = walk(root)
    if files is not None:
        files.walk_problems = tuple(problems)
    notes: list[Note] = []
    for path in paths:
        note, note_problems = read_note(root, path, cache, files.files if files is not None else None)
        problems += note_problems
        if note is not None:
            notes.append(note if bodies else replace(note, body=""))
    if cache is not None:
        cache.save(keep=(note.path for note in notes))
    problems = settle_problems(problems)
    if not notes:
        detail = f"; none of its {len(paths)} note file(s) could be read" if paths else "; it has no .md, .markdown or .txt files"
        error = _vault_error(f"{root}: no notes{detail}")
        error.problems = tuple(problems)
        raise error
    return classify(notes), problems


@dataclass
class VaultFiles:
    """What reading a vault found of its files, for kg.delta: each note file's FileState, by path,
    and the problems met walking the folders."""

    files: dict[str, FileState] = field(default_factory=dict)
    walk_problems: tuple[Problem, ...] = ()


def settle_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems as reported: each on one line, once, sorted by path."""
    return sorted({_one_line(p) for p in problems}, key=lambda p: (p.path, p.what, p.action))


def classify(notes: list[Note]) -> list[Note]:
    """Settle kinds: a note with no article metadata that other notes link to is a topic."""
    linked = linked_paths(notes)
    return [note if note.kind == settled_kind(note, linked) else replace(note, kind=TOPIC) for note in notes]


def linked_paths(notes: Iterable[Note]) -> set[str]:
    """The paths of the notes other notes link to."""
    notes = list(notes)
    index = LinkIndex(notes)
    return {target for note in notes for link in note.links if (target := index.resolve(link)) is not None and target != note.path}


def settled_kind(note: Note, linked: set[str]) -> str:
    """A note's kind: a topic when its type says so, or when it has no article metadata and other
    notes (`linked`: their paths) link to it; otherwise an article."""
    return TOPIC if is_topic_type(note.type) or (not has_article_metadata(note) and note.path in linked) else ARTICLE


class LinkIndex:
    """Resolves wiki-link targets to vault paths as Obsidian does: by path, else by unique name."""

    def __init__(self, notes: Iterable[Note]) -> None:
        self._by_path: dict[str, str] = {}
        by_name: dict[str, list[str]] = {}
        for note in notes:
            (bare, lowered), name = self.keys_of(note.path)
            self._by_path[bare] = note.path
            self._by_path[lowered] = note.path
            by_name.setdefault(name, []).append(note.path)
        self._by_name = {name: sorted(paths)[0] for name, paths in by_name.items()}
        self._ambiguous = {name for name, paths in by_name.items() if len(paths) > 1}

    @staticmethod
    def keys(link: WikiLink) -> tuple[str, str, str]:
        """What `link` is looked up by: its target as a path, without its suffix, and its name."""
        target = unicodedata.normalize("NFC", link.target).lower().lstrip("/")
        bare = _strip_suffix(target)
        return target, bare, bare.rsplit("/", 1)[-1]

    @staticmethod
    def keys_of(path: str) -> tuple[tuple[str, str], str]:
        """What the note at `path` is found by: (its two path keys, its name key)."""
        bare = _strip_suffix(path).lower()
        return (bare, path.lower()), bare.rsplit("/", 1)[-1]

    def lookup(self, keys: tuple[str, str, str]) -> str | None:
        """`resolve` of the link whose `keys` these are."""
        target, bare, name = keys
        return self._by_path.get(target) or self._by_path.get(bare) or self._by_name.get(name)

    def resolve(self, link: WikiLink) -> str | None:
        # Obsidian picks the shortest path among notes of the same name; sorted order is our tie-break.
        return self.lookup(self.keys(link))


def _strip_suffix(path: str) -> str:
    lower = path.lower()
    for suffix in NOTE_SUFFIXES:
        if lower.endswith(suffix):
            return path[: -len(suffix)]
    return path
