"""A build that makes only what changed since the last build into the same output folder.

The last whole build (or delta build) left its state (kg.state): every note as read, each file's
stat and digest, the resolution, and every node's record. A delta build:

1. walks the vault and stats each file; a file whose stat is unchanged (and not too recent to
   tell, as git's "racily clean" rule has it) is not read at all;
2. reads and parses the changed and new files, settles every note's kind again, and extracts
   the changed notes (in a forked worker, while this process reads every other note's cached
   summary: what resolving reads of it);
3. resolves the whole vault's names again (`kg.resolve`, exactly as a whole build does);
4. makes again the record of each node the change reaches: the changed articles, the nodes
   whose article counts, co-mentions, aliases or makers change, the nodes that appear or go;
5. patches the published graph.ttl, graph.json and graph.graphml piece by piece (the other
   pieces are copied by the kernel), writes the page again from its kept model (laying it out
   again only if its links changed), and updates the state.

The outputs are byte for byte what a whole build of the same vault writes (the tests compare
them after every kind of change). Whatever this build does not know how to do exactly, it leaves
to a whole build, before writing anything: a topic note changed, added or removed, a note whose
kind changes, a new or removed note that changes where other notes' links lead, a name whose
canonical spelling changes (its node would be renamed), an entity gaining or losing a topic
note, IRIs that collide, a GraphML attribute that appears or goes, too many changes at once,
a missing or stale state, page model or piece index. `Fallback` carries the reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path


from kg.cache import CacheStats, ExtractionCache, NoteCache, kept_dictionary
from kg.extract import Matcher, build_matcher
from kg.fragments import published_stamp
from kg.dictionary import Dictionary, dictionary_digest
from kg.graph import ARTICLE_PREFIX, broader_links, default_attrs, entity_attrs, entity_edges, mention_edges, note_attrs, note_edges, note_nodes, reaches, topic_id
from kg.model import ARTICLE, ENTITY_KINDS, TOPIC, Extraction, Note, Problem, WikiLink
from kg.parallel import WarmWorker
from kg.read import FileState, LinkIndex, file_stamp, note_files, read_note, settle_problems, settled_kind
from kg.resolve import Resolution, Summary, resolve
from kg.state import BuildState, ChangeGraph, Known, Record, StateUnreadable, add_record
from kg.vocab import DEFAULT_BASE, mint_text

# Stats this close to (or after) the moment the last build read the files may hide a change made
# in the same clock tick (coarse file system clocks): such files are read and digested again.
RACY_NS = 2_000_000_000
# Past this many changed notes and this share of the vault, a whole build is as quick and simpler.
MAX_CHANGED = 200
MAX_CHANGED_SHARE = 0.1


class Fallback(Exception):
    """This change needs a whole build; the message says why. `notices` are the cache's notices
    so far (a damaged cache file found on the way is gone by the time the whole build looks)."""

    notices: tuple[str, ...] = ()


@dataclass
class Changes:
    """What the outputs must make again, for the exporters' `patch` functions.

    `graph` holds each node of `nodes` with its attributes and out-edges as a whole build would
    make them, and the nodes they link to (with their kind only)."""

    graph: ChangeGraph
    nodes: list[str]  # sorted: nodes whose entries are made again
    removed: list[str]  # sorted: nodes that are gone
    articles: set[str]  # article nodes among `nodes` and `removed` (graph.ttl's runs)
    iris: dict[str, str]  # the IRI of every node in `graph` and of every removed node
    graphml_keys: tuple[dict, dict]
    page: object | None = None  # the page's model as the last build kept it, when already read (kg.export.html.PageModel.load), or made up to date (patch_ahead)


@dataclass
class Outcome:
    """What a delta build did, for kg.build."""

    notes: list[Note]
    problems: list[Problem]
    counts: dict[str, int]
    files: list[Path] = field(default_factory=list)
    cache: CacheStats | None = None
    unchanged: bool = False
    changed: int = 0  # notes changed, added or removed
    # What the delta held (the state as read, the page's model, the change graph...: a few hundred
    # thousand objects at 3,300 notes), left for the caller to drop: freeing it took 0.06 s before
    # build_changes could return, and the kg command leaves it to the operating system at exit.
    held: tuple = ()


def fingerprint(vault: Path, out: Path, dictionaries: tuple[Path, ...], options: dict, *, code: str) -> str:
    """What a build's outputs depend on besides the notes: kg's code, the dictionary, the
    rendering options, and where the vault and the outputs are."""
    given = {name: value for name, value in options.items() if value is not None}
    parts = [code, dictionary_digest(tuple(dictionaries)), json.dumps(given, sort_keys=True, default=str), str(Path(vault).resolve()), str(Path(out).resolve())]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def output_stamp(path: Path) -> list[int]:
    """The stamp (kg.fragments.published_stamp) of the output at `path`, as the state keeps it."""
    return list(published_stamp(path.stat()))


# --- 1. what changed ------------------------------------------------------------------------


@dataclass
class Scan:
    """The vault's files now against the state: which notes changed, came or went."""

    files: dict[str, FileState]  # every file now (new stats; states of changed ones filled by reading)
    paths: dict[str, str]  # every note file now: its path, by vault path
    walk_problems: tuple[Problem, ...]
    fresh: dict[str, Note]  # changed or new notes as read now (bodies and all, kind provisional)
    gone: set[str]  # notes of the state that are no longer notes (deleted, or unreadable now)
    refreshed: bool = False  # some unchanged file has a new stat to keep


def scan(vault: Path, known: Known, notes: NoteCache, *, read_at: int) -> Scan:
    stats, walk_problems = note_files(vault)
    if tuple(walk_problems) != known.walk_problems:
        raise Fallback("the folders changed (links, permissions)")
    found = Scan(files={}, paths={}, walk_problems=tuple(walk_problems), fresh={}, gone=set())
    for rel, (path, stat_result) in stats.items():  # in order
        found.paths[rel] = path
        old = known.files.get(rel)
        if old is not None and old.stat is not None:
            stat = file_stamp(stat_result)
            if stat == old.stat and max(stat[1], stat[2]) < known.read_at - RACY_NS:
                found.files[rel] = old
                continue
        read: dict[str, FileState] = {}
        note, _problems = read_note(vault, Path(path), notes, read)
        state = read[rel]
        if old is not None and state.digest is not None and state.digest == old.digest:
            found.files[rel] = replace(old, stat=state.stat)  # the same bytes: the same note and problems
            found.refreshed = found.refreshed or state.stat != old.stat
            continue
        found.files[rel] = state
        if note is not None:
            found.fresh[rel] = note
        elif rel in known.notes:
            found.gone.add(rel)  # a note no more: it cannot be read now
    found.gone |= {rel for rel in known.notes if rel not in found.paths}
    return found


# --- the build ------------------------------------------------------------------------------


def build_changes(
    vault: Path,
    out: Path,
    folder: Path,
    *,
    dictionaries: tuple[Path, ...],
    options: dict,
    jobs: int,
    code: str,
    write: Callable[[Changes, Path, list[Problem], Callable[[], object]], list[Path]],
    progress: Callable[[int, int], None] | None = None,
    resident: bool = False,
) -> Outcome | None:
    """The build of `vault` into `out` as a delta of the last one, or None when the state cannot
    serve (missing, or the fingerprint or an output changed). Raises Fallback when the change
    needs a whole build. `write(changes, out, problems, meanwhile)` writes the outputs (kg.build's
    publish), running `meanwhile` (the state's records saved) while it waits for the page.
    `resident` (a process that builds again and again, see kg.watch): the changed notes are
    extracted here with the matcher `hold_matcher` keeps, when it has one for this cache folder,
    dictionary and code."""
    state = BuildState(folder)
    sealed = state.sealed()
    if sealed is None or options.get("max_nodes") is not None:
        return None
    print_ = fingerprint(vault, out, dictionaries, options, code=code)
    recorded, stamps = sealed
    if recorded != print_ or not _outputs_as_left(out, stamps):
        return None
    digest = dictionary_digest(tuple(dictionaries))
    store = ExtractionCache(folder, dictionary_digest=digest, code=code)
    held = _HELD.get(_held_key(folder, digest, code)) if resident else None

    def matcher() -> Matcher:
        return held if held is not None else _matcher(folder, store, dictionaries, code)

    page: list = []

    def meanwhile() -> None:
        """What the page's layout will need and the worker's extraction does not: the page's model
        (its index: kg.export.html.KeptPages)."""
        from kg.export.html import PageModel

        page.append(PageModel(folder).load())

    # A worker gets its matcher ready (half a second) while this process reads the last build's
    # state and finds what changed; it is ended at once if nothing did, or if the change needs a
    # whole build.
    with WarmWorker(matcher, jobs=1 if held is not None else jobs) as worker:
        known = state.known()
        if known is None or known.extra.get("collisions"):
            return None
        read_at = time.time_ns()
        parsed = NoteCache(folder, code=code, one_by_one=True)
        found = scan(vault, known, parsed, read_at=read_at)
        changed = sorted(set(found.fresh) | found.gone)
        notes_now = len(set(known.notes) - found.gone | set(found.fresh))
        problems = _problems(found.walk_problems, found.files)
        if not changed:
            if problems != _problems(known.walk_problems, known.files):
                raise Fallback("a file that is no note changed")
            if found.refreshed:
                known = replace(known, files=found.files, read_at=read_at)
                if state.save_changes({}, known):
                    state.seal(print_, stamps)
            notes = [known.notes[rel] for rel in sorted(known.notes)]
            if progress is not None:
                progress(len(notes), len(notes))
            return Outcome(notes=notes, problems=problems, counts=dict(known.counts), files=[out / name for name in sorted(stamps)], unchanged=True, cache=CacheStats(hits=len(notes)), held=(known, found))
        if len(changed) > MAX_CHANGED_SHARE * notes_now and len(changed) > MAX_CHANGED:
            raise Fallback(f"{len(changed)} notes changed")
        if notes_now == 0:
            raise Fallback("no notes left")

        # 2. kinds, links and extraction
        notes, kinds, index = _settle_kinds(known, found, changed=set(changed))
        dictionary = kept_dictionary(folder, tuple(dictionaries), code=code)
        digests = {rel: found.files[rel].digest for rel in notes}
        keys = store.keys(notes.values(), digests=digests)
        extractions, summaries = _extract(notes, found.fresh, keys, store, worker, progress=progress, meanwhile=meanwhile)

    # 3. resolution
    resolution = resolve([note for note in notes.values() if note.kind == TOPIC], extractions, dictionary, summaries=summaries)
    del extractions
    _check_resolution(known, resolution)

    # 4. records
    plan = _Plan(known, state, notes, kinds, resolution, summaries, dictionary, found, changed, options.get("base", DEFAULT_BASE), index)
    records = plan.make()
    known_now = plan.known_after(read_at=read_at, files=found.files, walk_problems=found.walk_problems)

    # 5. outputs and state
    changes = plan.changes(records)
    changes.page = page[0] if page else None
    if jobs > 1:  # the page's layout started now, if it must be made again (before the writers fork)
        from kg.export.html import patch_ahead

        patch_ahead(changes, fragments=folder, jobs=jobs)
    _prepare_writers(jobs)  # while the page is laid out, if it is: a tenth of a second the layout need not wait for
    state.forget()  # from here until sealed, the state vouches for no outputs: its records may be saved before they are published
    files = write(changes, out, problems, lambda: state.save_changes(records, known_now, notes=changed))
    state.seal(print_, {path.name: output_stamp(path) for path in files})
    parsed.save_changes(gone=sorted(found.gone))
    held = (known, found, notes, summaries, resolution, plan, records, changes, page)
    return Outcome(notes=list(known_now.notes.values()), problems=problems, counts=dict(known_now.counts), files=files, cache=store.stats, changed=len(changed), held=held)


def _prepare_writers(jobs: int) -> None:
    """Import and make what the writers need, before they are forked: the formats, the page's
    template and, with `jobs` > 1, igraph (the page's writer groups the communities if the links
    changed)."""
    from kg.export import formats
    from kg.export.html import prepare

    formats()
    prepare()
    if jobs > 1:
        from kg.layout import prepare as prepare_layout

        prepare_layout(("igraph",))


def _matcher(folder: Path, store: ExtractionCache, dictionaries: tuple[Path, ...], code: str) -> Matcher:
    dictionary = kept_dictionary(folder, tuple(dictionaries), code=code)
    # Read lazily: a delta looks up the words of a few notes, not all of the lists.
    return build_matcher(dictionary, store.lexicon(dictionary, lazy=True), store.word_table(dictionary, lazy=True))


# The one matcher a resident process keeps (see hold_matcher), by _held_key.
_HELD: dict[tuple[str, str, str], Matcher] = {}


def _held_key(folder: Path, digest: str, code: str) -> tuple[str, str, str]:
    return (str(Path(folder).resolve()), digest, code)


def hold_matcher(folder: Path, dictionaries: tuple[Path, ...], code: str) -> None:
    """Keep, in this process, the matcher of the cache `folder` for `dictionaries` and kg's
    `code` (made now, unless it is kept already), for the next resident build_changes."""
    digest = dictionary_digest(tuple(dictionaries))
    key = _held_key(folder, digest, code)
    if key not in _HELD:
        _HELD.clear()  # one at a time: a matcher is tens of MB
        _HELD[key] = _matcher(folder, ExtractionCache(folder, dictionary_digest=digest, code=code), dictionaries, code)


def _problems(walk_problems: Iterable[Problem], files: dict[str, FileState]) -> list[Problem]:
    return settle_problems([*walk_problems, *(p for rel in sorted(files) for p in files[rel].problems)])


def _outputs_as_left(out: Path, stamps: dict[str, list[int]]) -> bool:
    try:
        return all(output_stamp(out / name) == stamp for name, stamp in stamps.items())
    except OSError:
        return False


def _settle_kinds(known: Known, found: Scan, *, changed: set[str]) -> tuple[dict[str, Note], dict[str, str], LinkIndex]:
    """Every note now (changed ones with their bodies), kinds settled as a whole build settles
    them (kg.read.classify), and the notes' LinkIndex; Fallback when a note's kind would change,
    a topic note changed, or a link now leads elsewhere (see _links_now)."""
    notes = {rel: note for rel, note in known.notes.items() if rel not in found.gone and rel not in found.fresh}
    notes.update(found.fresh)
    notes = dict(sorted(notes.items()))
    index, linked = _links_now(known, notes, changed=changed)
    kinds: dict[str, str] = {}
    for rel, note in notes.items():
        kinds[rel] = settled_kind(note, linked)
        old = known.notes.get(rel)
        if old is not None and old.kind != kinds[rel]:
            raise Fallback(f"{rel} is now a {kinds[rel]}")
        if rel in found.fresh and kinds[rel] != ARTICLE:
            raise Fallback(f"topic note {rel} changed")
    for rel in found.gone:
        if known.notes[rel].kind != ARTICLE:
            raise Fallback(f"topic note {rel} is gone")
    for rel in found.fresh:
        notes[rel] = replace(notes[rel], kind=kinds[rel])
    return notes, kinds, index


def _links_now(known: Known, notes: dict[str, Note], *, changed: set[str]) -> tuple[LinkIndex, set[str]]:
    """The LinkIndex of `notes`, and the paths their links lead to (kg.read.linked_paths), in one
    pass over every link. A note that came or went may be where other notes' links now lead, or
    no longer lead: Fallback if one does (the links of the `changed` notes are made again anyway).
    Only the links looked up by a key of such a note can; they alone are resolved as before too."""
    index = LinkIndex(notes.values())
    moved = set(notes) ^ set(known.notes)
    path_keys: set[str] = set()
    name_keys: set[str] = set()
    for rel in moved:
        paths, name = LinkIndex.keys_of(rel)
        path_keys.update(paths)
        name_keys.add(name)

    @functools.cache
    def before() -> LinkIndex:  # the last build's, made only if a link may lead to a note that came or went
        return LinkIndex(known.notes.values())

    def leads_elsewhere(keys: tuple[str, str, str], now: str | None) -> bool:
        return (keys[0] in path_keys or keys[1] in path_keys or keys[2] in name_keys) and before().lookup(keys) != now

    linked: set[str] = set()
    # A link's keys and where it leads depend on its target alone, and most links share theirs
    # with many others (61,000 links, a few thousand targets at 10,000 notes).
    leads: dict[str, tuple[tuple[str, str, str], str | None]] = {}
    for rel, note in notes.items():
        check = bool(moved) and rel not in changed
        for link in note.links:
            found = leads.get(link.target)
            if found is None:
                keys = LinkIndex.keys(link)
                found = leads[link.target] = (keys, index.lookup(keys))
            keys, target = found
            if target is not None and target != note.path:
                linked.add(target)
            if check and leads_elsewhere(keys, target):
                raise Fallback(f"a link of {rel} now leads elsewhere")
        if check:
            for link in broader_links(note):
                keys = LinkIndex.keys(link)
                if leads_elsewhere(keys, index.lookup(keys)):
                    raise Fallback(f"a link of {rel} now leads elsewhere")
    return index, linked


def _extract(notes: dict[str, Note], fresh: dict[str, Note], keys: dict[str, str], store: ExtractionCache, worker: WarmWorker, *, progress, meanwhile: Callable[[], object]) -> tuple[dict[str, Extraction], dict[str, Summary]]:
    """The changed notes' extractions, made by `worker` while this process reads the other notes'
    summaries from the cache (kg.resolve.Summary: what resolving reads of them) and does
    `meanwhile`, and those summaries; Fallback if one is missing (its text was not read)."""
    summaries: dict[str, Summary] = {}

    def load() -> None:
        summaries.update(store.summaries(keys))
        meanwhile()

    made = worker.extract([fresh[rel] for rel in sorted(fresh) if rel in notes], meanwhile=load)
    if progress is not None:
        progress(len(notes), len(notes))
    missing = [rel for rel in notes if rel not in made and rel not in summaries]
    if missing:
        error = Fallback(f"the cached extraction of {missing[0]} is missing")
        error.notices = tuple(store.stats.notices)
        raise error
    store.save({rel: (keys[rel], made[rel]) for rel in made}, keep=keys)
    store.stats.hits, store.stats.misses = len(notes) - len(made), len(made)
    return made, {rel: summaries[rel] for rel in notes if rel not in made}


def _check_resolution(known: Known, resolution: Resolution) -> None:
    for key, spelling in resolution.canonical.items():
        old = known.canonical.get(key)
        if old is not None and old != spelling:
            raise Fallback(f"the name {old} is now spelt {spelling}")
    for eid, entity in resolution.entities.items():
        old = known.entities.get(eid)
        if (old.note if old is not None else None) != entity.note:
            raise Fallback(f"{eid} gained or lost its topic note")
    for eid, old in known.entities.items():
        if eid not in resolution.entities and old.note:
            raise Fallback(f"{eid} is gone with its topic note")


# --- 4. the records that change -----------------------------------------------------------


class _Plan:
    """The new records of every node the change reaches (see `make`), and what follows from them."""

    def __init__(self, known: Known, state: BuildState, notes: dict[str, Note], kinds: dict[str, str], resolution: Resolution, summaries: dict[str, Summary], dictionary: Dictionary, found: Scan, changed: list[str], base: str, index: LinkIndex) -> None:
        self.known, self.state, self.notes, self.kinds = known, state, notes, kinds
        self.resolution, self.summaries, self.dictionary, self.found, self.base = resolution, summaries, dictionary, found, base
        self.articles = {ARTICLE_PREFIX + rel for rel in changed}  # changed, new or gone article nodes
        self.index = index  # of `notes`
        self.note_node = note_nodes(notes.values(), resolution)
        self.old: dict[str, Record] = {}
        self.new: dict[str, Record | None] = {}

    def target(self, link: WikiLink) -> tuple[str, bool]:
        path = self.index.resolve(link)
        if path is None:
            return topic_id(link.name), False
        return self.note_node[path], self.kinds[path] == ARTICLE

    def make(self) -> dict[str, Record | None]:
        """node -> its new Record (None: gone) for every node that changes: the changed articles;
        the entities whose resolution, article count or co-mentions change; then the other nodes
        whose article count changes or that appear or go with the links to them."""
        known, resolution = self.known, self.resolution
        self.old = self._records(self.articles)
        mentions: dict[str, dict[str, list]] = {}
        for (path, eid), found in resolution.mentions.items():
            mentions.setdefault(path, {})[eid] = found
        for node in sorted(self.articles):
            path = node[len(ARTICLE_PREFIX) :]
            note = self.notes.get(path)
            if note is None:
                self.new[node] = None
                continue
            edges = note_edges(note, node, self.target, self.dictionary) + mention_edges(mentions.get(path, {}))
            self.new[node] = (note_attrs(note), _ordered(edges))

        # What the changed articles reach and name together.
        counts: dict[str, int] = {}  # node -> change in the number of articles reaching it
        pairs: set[tuple[str, str]] = set()
        for node in self.articles:
            before, after = self.old.get(node), self.new.get(node)
            for record, sign in ((before, -1), (after, 1)):
                if record is not None:
                    for v in reaches({v: dict(keyed) for v, keyed in record[1]}):
                        counts[v] = counts.get(v, 0) + sign
            pairs |= _pairs(_named(before)) ^ _pairs(_named(after))
        counts = {v: n for v, n in counts.items() if n}
        entities = resolution.entities
        changed = {eid for eid in set(entities) | set(known.entities) if _entity_state(entities.get(eid)) != _entity_state(known.entities.get(eid))}
        co_changes: dict[str, dict[str, int]] = {}  # the lesser end -> other end -> weight now
        for (a, b), weight in self._weights(pairs, mentions).items():
            co_changes.setdefault(a, {})[b] = weight

        # Entities (those that are entities now): their records do not depend on other records.
        now_entities = sorted(({v for v in counts} | changed | set(co_changes)) & set(entities) - self.articles)
        self.old.update(self._records(now_entities))
        for node in now_entities:
            self.new[node] = self._node(node, counts.get(node, 0), co_changes.get(node, {}), referrers=0)

        # Every other node: whether it is still there follows from the links to it (only nodes
        # no entity is, whose own out-edges do not change here, hold no entity's existence).
        referrers = self._referrers()
        others = {v for v in counts if v not in entities} | (changed - set(entities))
        others |= {v for v, n in referrers.items() if n and not v.startswith(ARTICLE_PREFIX) and self._own_note(v) is None and v not in entities}
        others = sorted(others - self.articles)
        self.old.update(self._records(others))
        for node in others:
            self.new[node] = self._node(node, counts.get(node, 0), {}, referrers=known.referrers.get(node, 0) + referrers.get(node, 0))
        return self.new

    def _records(self, nodes: Iterable[str]) -> dict[str, Record]:
        """The last build's records of `nodes`; Fallback when the state cannot give them."""
        try:
            return self.state.records(nodes)
        except StateUnreadable as exc:
            raise Fallback(str(exc)) from exc

    def _referrers(self) -> dict[str, int]:
        """node -> change in how many nodes link to it, from the records made so far."""
        change: dict[str, int] = {}
        for node, record in self.new.items():
            old = self.old.get(node)
            for v in _targets(old) - _targets(record):
                change[v] = change.get(v, 0) - 1
            for v in _targets(record) - _targets(old):
                change[v] = change.get(v, 0) + 1
        return change

    def _weights(self, pairs: set[tuple[str, str]], mentions: dict[str, dict[str, list]]) -> dict[tuple[str, str], int]:
        """The number of articles naming both ends of each pair, now: the changed articles by
        their `mentions`, the others by their summaries."""
        ends = {e for pair in pairs for e in pair}
        said = self.resolution.said
        naming = {signature: eid for signature, eid in said.items() if eid in ends}
        articles: dict[str, set[str]] = {}
        for path, (signatures, _relations) in self.summaries.items():
            if self.kinds.get(path) == ARTICLE:
                for kind, key, surface, _count in signatures:
                    eid = naming.get((kind, key, surface))
                    if eid is not None:
                        articles.setdefault(eid, set()).add(path)
        for path, named in mentions.items():
            if self.kinds.get(path) == ARTICLE:
                for eid in named:
                    if eid in ends:
                        articles.setdefault(eid, set()).add(path)
        return {(a, b): len(articles.get(a, set()) & articles.get(b, set())) for a, b in pairs}

    def _node(self, node: str, counted: int, co: dict[str, int], *, referrers: int) -> Record | None:
        """The new record of a node that is not a changed article (None when it is gone: no
        entity, no note of its own, nothing links to it)."""
        old = self.old.get(node)
        entity = self.resolution.entities.get(node)
        note = self._own_note(node)
        if entity is None and note is None and referrers <= 0:
            return None
        if entity is not None:
            attrs = entity_attrs(entity)
        elif note is not None:
            attrs = note_attrs(note)
        else:
            attrs = default_attrs(node)
        attrs["articles"] = (old[0].get("articles", 0) if old is not None else 0) + counted
        edges: list[tuple[str, str, dict]] = []
        if entity is not None:
            edges += entity_edges(entity)
        if note is not None or (entity is not None and entity.note):
            edges += note_edges(note or self.notes[entity.note], node, self.target, self.dictionary)
        if entity is not None:
            weights = {v: data["weight"] for v, keyed in (old[1] if old is not None else []) for key, data in keyed if key == "co_mention"}
            weights.update(co)
            edges += [(v, "co_mention", {"weight": weights[v]}) for v in sorted(weights) if weights[v] >= 2]
        return attrs, _ordered(edges)

    def _own_note(self, node: str) -> Note | None:
        """The topic note whose own node this is (not an entity's)."""
        if node.startswith(f"{TOPIC}:"):
            note = self.notes.get(node[len(TOPIC) + 1 :])
            if note is not None and note.kind == TOPIC and self.note_node[note.path] == node:
                return note
        return None

    def changes(self, records: dict[str, Record | None]) -> Changes:
        """The Changes for the exporters (after `known_after`, which settles the new nodes' IRIs)."""
        graph = ChangeGraph()
        iris = {**self.known.iris, **self.iris}
        present = sorted(node for node, record in records.items() if record is not None)
        removed = sorted(node for node, record in records.items() if record is None and node in self.known.iris)

        for node in present:
            add_record(graph, node, records[node])
        for node in list(graph._node):
            if not graph._node[node]:
                graph._node[node]["kind"] = node.split(":", 1)[0]  # a node linked to: its kind is its id's prefix
        return Changes(graph=graph, nodes=present, removed=removed, articles=self.articles, iris=iris, graphml_keys=self.graphml_keys)

    def known_after(self, *, read_at: int, files: dict[str, FileState], walk_problems: tuple[Problem, ...]) -> Known:
        """The state once the outputs are written; Fallback when an IRI would collide or a
        GraphML attribute would appear or go."""
        from kg.export.graphml import keys_from_counts, record_counts

        known = self.known
        iris = dict(known.iris)
        referrers = dict(known.referrers)
        counts = dict(known.counts)
        graphml = dict(known.graphml)
        taken = set(iris.values())
        for node, record in sorted(self.new.items()):
            old = self.old.get(node)
            if old is not None:
                for key, n in record_counts(old).items():
                    graphml[key] -= n
                counts["edges"] -= sum(len(keyed) for _v, keyed in old[1])
                counts["entities"] -= old[0]["kind"] in ENTITY_KINDS
            if record is None:
                if node in iris:
                    taken.discard(iris.pop(node))
                referrers.pop(node, None)
                continue
            for key, n in record_counts(record).items():
                graphml[key] = graphml.get(key, 0) + n
            counts["edges"] += sum(len(keyed) for _v, keyed in record[1])
            counts["entities"] += record[0]["kind"] in ENTITY_KINDS
            if node not in iris:
                iri = mint_text(self.base, record[0]["kind"], node.split(":", 1)[1])
                if iri in taken:
                    raise Fallback(f"the IRI of {node} is taken")
                iris[node] = iri
                taken.add(iri)
        for node, n in self._referrers().items():
            if node in iris:
                referrers[node] = referrers.get(node, 0) + n
        for node in list(referrers):
            if node not in iris or not referrers[node]:
                referrers.pop(node)
        graphml = {key: n for key, n in graphml.items() if n}
        self.iris = iris
        self.graphml_keys = keys_from_counts(graphml)
        if self.graphml_keys != keys_from_counts(known.graphml):
            raise Fallback("a GraphML attribute appears or goes")
        for node, record in self.new.items():  # every edge's end is a node
            for v, _keyed in record[1] if record is not None else ():
                if v not in iris:
                    raise Fallback(f"{node} links to {v}, which is no node")
        notes = {rel: replace(note, body="") if note.body else note for rel, note in self.notes.items()}
        return replace(known, files=files, walk_problems=walk_problems, notes=notes, entities=self.resolution.entities, canonical=self.resolution.canonical, iris=iris, referrers=referrers, graphml=graphml, counts=counts, read_at=read_at)


def _ordered(edges: list[tuple[str, str, dict]]) -> list[tuple[str, list[tuple[str, dict]]]]:
    """Edges (target, relation, data) as a Record's out-edges: by target, in the order first added."""
    by_target: dict[str, list[tuple[str, dict]]] = {}
    for v, key, data in edges:
        by_target.setdefault(v, []).append((key, data))
    return list(by_target.items())


def _named(record: Record | None) -> list[str]:
    """The entities an article's record mentions."""
    if record is None:
        return []
    return [v for v, keyed in record[1] if any(key == "mentions" for key, _data in keyed)]


def _targets(record: Record | None) -> set[str]:
    return {v for v, _keyed in record[1]} if record is not None else set()


def _pairs(named: list[str]) -> set[tuple[str, str]]:
    ordered = sorted(set(named))
    return {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]}


def _entity_state(entity) -> tuple | None:  # noqa: ANN001 - an Entity or None
    if entity is None:
        return None
    return (entity.kind, entity.name, tuple(sorted(entity.aliases)), tuple(sorted(entity.makers)), entity.family, entity.note)


__all__ = ["Changes", "Fallback", "Outcome", "build_changes", "fingerprint", "output_stamp"]
