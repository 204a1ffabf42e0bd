"""resolve: merge mentions into entities. The one place that knows what "the same entity" means.

Two spellings are one entity when they share a `name_key` (case, width, separators folded) or
when the dictionary lists them as aliases of one entry. A topic note whose title or alias names
an entity is that entity. Canonical names come from the dictionary, else from the most frequent
spelling; nothing depends on the order notes were read in.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kg.dictionary import Dictionary, Entry
from kg.model import ENTITY_KINDS, ORGANIZATION, PRODUCT, TOPIC, Entity, Extraction, Mention, Note
from kg.normalize import name_key


def entity_id(kind: str, key: str) -> str:
    """Graph node id of an entity."""
    return f"{kind}:{key}"


@dataclass
class Resolution:
    """Entities by node id, and the mentions of each (article path, entity id) pair."""

    entities: dict[str, Entity] = field(default_factory=dict)
    mentions: dict[tuple[str, str], list[Mention]] = field(default_factory=dict)
    # (kind, name key) -> the canonical spelling of a name the dictionary does not know.
    canonical: dict[tuple[str, str], str] = field(default_factory=dict)
    # (kind, key, surface) of every name said -> the entity it names.
    said: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # _find's index by name key, and how many entities it has seen (see _names).
    _names: dict[tuple[str, str], Entity] = field(default_factory=dict, repr=False)
    _names_seen: int = field(default=0, repr=False)


# What resolution reads of one note's extraction: each distinct (kind, key, surface) of its
# mentions with the number of times it is said, in the order of their first mention, and its
# relations as (subject, predicate, object). Plain tuples: kept beside each extraction in the
# cache (marshal), so a build that extracts a few notes resolves the others from these alone.
Summary = tuple[tuple[tuple[str, str, str, int], ...], tuple[tuple[str, str, str], ...]]


def summarize(extraction: Extraction) -> Summary:
    said: dict[tuple[str, str, str], int] = {}
    for mention in extraction.mentions:
        signature = (mention.kind, mention.key, mention.surface)
        said[signature] = said.get(signature, 0) + 1
    return tuple((*signature, count) for signature, count in said.items()), tuple((r.subject, r.predicate, r.object) for r in extraction.relations)


def resolve(notes: list[Note], extractions: Mapping[str, Extraction], dictionary: Dictionary, *, summaries: Mapping[str, Summary] | Iterable[tuple[str, Summary]] | None = None) -> Resolution:
    """Entities of the notes' `extractions` and of the notes known only by their `summaries`
    (`summarize`: the same entities, aliases and canonical names, made in the same order, as
    their extractions give), and the mentions of the extracted notes (`said` tells which entity
    each name of a summary names). `summaries` may be a mapping by path, or (path, summary)
    pairs in path order, read once (kg.cache.ExtractionCache.summaries_in_order: a vault's
    summaries are never all held)."""
    result = Resolution()
    entries: dict[tuple[str, str, str], Entry | None] = {}  # most surfaces recur: look each up once

    def entry_for(signature: tuple[str, str, str]) -> Entry | None:
        if signature not in entries:
            entries[signature] = _entry_for(*signature, dictionary)
        return entries[signature]

    if summaries is None:
        summaries = ()
    elif isinstance(summaries, Mapping):
        summaries = [(path, summaries[path]) for path in sorted(summaries)]
    extracted = ((path, summarize(extractions[path])) for path in sorted(extractions))

    # Every distinct (kind, key, surface), how many times the vault says it, in the order first
    # said; and every relation, in order.
    totals: dict[tuple[str, str, str], int] = {}
    relations: list[tuple[str, str, str]] = []
    for _path, (said, related) in heapq.merge(extracted, summaries, key=operator.itemgetter(0)):
        for kind, key, surface, count in said:
            signature = (kind, key, surface)
            totals[signature] = totals.get(signature, 0) + count
        relations.extend(related)

    # Canonical spelling of each discovered (non-dictionary) name: most frequent, then smallest.
    spelling_counts: dict[tuple[str, str], Counter[str]] = {}
    for signature, count in totals.items():
        if not entry_for(signature):
            # A short form (`v1.5` for `CogVideoX v1.5`) carries the full name as its key.
            kind, key, surface = signature
            spelling = key or surface
            spelling_counts.setdefault((kind, name_key(spelling)), Counter())[spelling] += count
    canonical = result.canonical = {key: min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] for key, counts in spelling_counts.items()}

    def entity_for_entry(entry: Entry) -> Entity:
        eid = entity_id(entry.kind, entry.name)
        entity = result.entities.get(eid)
        if entity is None:
            entity = result.entities[eid] = Entity(key=entry.name, kind=entry.kind, name=entry.name, aliases=set(entry.aliases))
            entity.makers.update(entry.makers)
            entity.family = entry.family
        return entity

    # Entities are made in the order their first spelling is first said (what `_find` goes by).
    for signature in totals:
        kind, key, surface = signature
        entry = entry_for(signature)
        if entry is not None:
            entity = entity_for_entry(entry)
        else:
            name = canonical[(kind, name_key(key or surface))]
            entity = result.entities.setdefault(entity_id(kind, name), Entity(key=name, kind=kind, name=name))
        if surface != entity.name:
            entity.aliases.add(surface)
        result.said[signature] = entity_id(entity.kind, entity.key)
    for path in sorted(extractions):
        for mention in extractions[path].mentions:
            result.mentions.setdefault((path, result.said[mention.kind, mention.key, mention.surface]), []).append(mention)

    # Makers and families named by the dictionary become entities too, so their edges have ends.
    # The greatest unsettled id first, every time; the list is made again only when entities were added.
    pending = sorted(result.entities)
    settled: set[str] = set()
    while pending:
        eid = pending.pop()
        settled.add(eid)
        before = len(result.entities)
        entity = result.entities[eid]
        makers = set()
        for maker in sorted(entity.makers):
            entry = dictionary.lookup(ORGANIZATION, maker)
            if entry is not None:
                makers.add(entity_for_entry(entry).key)
            else:
                makers.add(result.entities.setdefault(entity_id(ORGANIZATION, maker), Entity(key=maker, kind=ORGANIZATION, name=maker)).key)
        entity.makers = makers
        if entity.family:
            entry = dictionary.lookup(PRODUCT, entity.family)
            if entry is not None:
                entity.family = entity_for_entry(entry).key
            else:
                result.entities.setdefault(entity_id(PRODUCT, entity.family), Entity(key=entity.family, kind=PRODUCT, name=entity.family))
        if len(result.entities) != before:
            pending = sorted(set(result.entities) - settled)

    # Relations found in text (e.g. `OpenAI 的 Sora`) add makers and families.
    for subject, predicate, obj in relations:
        product = _find(result, PRODUCT, subject, dictionary)
        if product is None:
            continue
        if predicate == "made_by":
            maker = _find(result, ORGANIZATION, obj, dictionary)
            if maker is not None:
                product.makers.add(maker.key)
        elif predicate == "version_of" and product.family is None:
            family = _find(result, PRODUCT, obj, dictionary)
            if family is not None and family is not product:
                product.family = family.key

    # Topic notes that name an entity are that entity.
    for note in notes:
        if note.kind != TOPIC:
            continue
        for kind in ENTITY_KINDS:
            entity = None
            for name in (note.title, note.stem, *note.aliases):
                entry = dictionary.lookup(kind, name)
                entity = entity_for_entry(entry) if entry is not None else _find(result, kind, name, dictionary)
                if entity is not None:
                    break
            if entity is not None and entity.note is None:
                entity.note = note.path
                break
    return result


def _entry_for(kind: str, key: str, surface: str, dictionary: Dictionary) -> Entry | None:
    if key:
        entry = dictionary.lookup(kind, key)
        if entry is not None:
            return entry
    return dictionary.lookup(kind, surface)


def _find(result: Resolution, kind: str, name: str, dictionary: Dictionary) -> Entity | None:
    """The entity of `kind` called `name` (by dictionary or by key), if the vault has it.

    Without a dictionary entry, the first entity (in the order entities were made) whose name or
    an alias has the same `name_key`.
    """
    entry = dictionary.lookup(kind, name)
    if entry is not None:
        return result.entities.get(entity_id(kind, entry.name))
    return _names(result).get((kind, name_key(name)))


def _names(result: Resolution) -> dict[tuple[str, str], Entity]:
    """(kind, name key) -> first entity so called, brought up to date with entities added since.

    Entities are only ever added (dicts keep insertion order) and their aliases no longer change
    once mentions are resolved, so indexing the new ones keeps "first in order" exact.
    """
    index = result._names
    if result._names_seen == len(result.entities):
        return index
    for entity in itertools.islice(result.entities.values(), result._names_seen, None):
        for spelling in (entity.name, *sorted(entity.aliases)):
            index.setdefault((entity.kind, name_key(spelling)), entity)
    result._names_seen = len(result.entities)
    return index
