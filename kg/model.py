"""The plain data that flows through the pipeline, and the names that define it.

read -> Note, extract -> Mention, resolve -> Entity. All frozen, all hashable, no behaviour
beyond small derived properties, so they pickle cheaply into worker processes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field


def _pickled_by_fields(cls: type) -> type:
    """Pickle a frozen slotted dataclass as `cls(*fields)`: half the time of the state dataclasses
    gives it (which looks its fields up again for every object), and a rebuild unpickles every
    note and mention of the vault from the caches."""
    values = operator.attrgetter(*cls.__slots__)
    cls.__reduce__ = lambda self: (cls, values(self))
    return cls

# Kinds of notes and of entities, as they appear in graph node attributes, JSON and the HTML page.
ARTICLE = "article"
TOPIC = "topic"
PRODUCT = "product"
ORGANIZATION = "organization"
PERSON = "person"
SOURCE = "source"

# How many evidence sentences each (article, entity) pair keeps.
EVIDENCE_PER_PAIR = 3

NOTE_KINDS = (ARTICLE, TOPIC)
ENTITY_KINDS = (PRODUCT, ORGANIZATION, PERSON)
NODE_KINDS = (ARTICLE, TOPIC, PRODUCT, ORGANIZATION, PERSON, SOURCE)

# Frontmatter keys, Chinese and English, mapped onto one model field.
FRONTMATTER_KEYS: dict[str, str] = {
    "title": "title",
    "标题": "title",
    "date": "date",
    "published": "date",
    "发布日期": "date",
    "日期": "date",
    "updated": "updated",
    "modified": "updated",
    "更新日期": "updated",
    "author": "authors",
    "authors": "authors",
    "作者": "authors",
    "source": "source",
    "来源": "source",
    "url": "url",
    "link": "url",
    "原文链接": "url",
    "tags": "tags",
    "tag": "tags",
    "标签": "tags",
    "aliases": "aliases",
    "alias": "aliases",
    "别名": "aliases",
    "type": "type",
    "类型": "type",
    "broader": "broader",
    "parent": "broader",
    "上级": "broader",
    "上位词条": "broader",
}

# A `type`/`类型` value that marks a topic note (any value ending in 词条 does too).
TOPIC_TYPES = frozenset({"主题", "topic", "concept", "moc", "index", "索引"})


def is_topic_type(value: str | None) -> bool:
    if not value:
        return False
    value = value.strip().lower()
    return value in TOPIC_TYPES or value.endswith("词条")

# Note file extensions kg reads.
NOTE_SUFFIXES = (".md", ".markdown", ".txt")

# Linked files that are attachments, not notes or topics.
ATTACHMENT_SUFFIXES = tuple(
    "." + ext
    for ext in "png jpg jpeg gif svg webp bmp avif heic pdf mp3 mp4 m4a wav ogg webm mov mkv canvas excalidraw zip csv xlsx docx pptx".split()
)

# Folders never walked (hidden folders, starting with ".", are skipped too).
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", ".obsidian", ".git", ".trash"})


@_pickled_by_fields
@dataclass(frozen=True, order=True, slots=True)
class WikiLink:
    """One `[[target#heading|label]]` as written in a note."""

    target: str
    label: str | None = None
    heading: str | None = None
    embed: bool = False

    @property
    def is_attachment(self) -> bool:
        """A link to an image, PDF or other non-note file (not a topic)."""
        return self.target.lower().endswith(ATTACHMENT_SUFFIXES)

    @property
    def name(self) -> str:
        """The linked note's name without folders or extension, as Obsidian displays it."""
        last = self.target.rstrip("/").rsplit("/", 1)[-1]
        for suffix in NOTE_SUFFIXES:
            if last.lower().endswith(suffix):
                return last[: -len(suffix)]
        return last


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Note:
    """One file of the vault after reading: metadata coerced to this schema, body as text."""

    path: str  # vault-relative, POSIX separators
    title: str
    kind: str  # ARTICLE or TOPIC
    body: str
    date: str | None = None  # ISO yyyy-mm-dd
    updated: str | None = None
    authors: tuple[str, ...] = ()
    source: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    type: str | None = None
    broader: tuple[str, ...] = ()  # names or paths of broader topics
    links: tuple[WikiLink, ...] = ()
    encoding: str = "utf-8"

    @property
    def stem(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name else name


@_pickled_by_fields
@dataclass(frozen=True, order=True, slots=True)
class Mention:
    """A surface form of an entity found in one note's text, with the sentence around it."""

    surface: str
    kind: str  # PRODUCT, ORGANIZATION or PERSON
    start: int  # character offsets of the surface in Note.body
    end: int
    sentence: str = ""  # filled for the first few mentions of each name (see EVIDENCE_PER_PAIR)
    key: str = ""  # dictionary/canonical key when the extractor knew it, else ""


@_pickled_by_fields
@dataclass(frozen=True, order=True, slots=True)
class Relation:
    """A typed statement between two entity names found in one note (e.g. `OpenAI 的 Sora`)."""

    subject: str
    predicate: str  # "made_by" or "version_of"
    object: str
    sentence: str = ""


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything extract() finds in one note."""

    mentions: tuple[Mention, ...] = ()
    relations: tuple[Relation, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, and what kg did about it."""

    path: str
    what: str
    action: str
    level: str = "warning"  # "warning" or "error"

    def line(self) -> str:
        return f"{self.path}: {self.what}; {self.action}"


@dataclass
class Entity:
    """A resolved thing: one node of the graph, however many spellings point to it."""

    key: str  # canonical name, unique within its kind
    kind: str
    name: str
    aliases: set[str] = field(default_factory=set)
    makers: set[str] = field(default_factory=set)  # keys of organizations
    family: str | None = None  # key of the product this is a version of
    note: str | None = None  # vault path of a note describing it
