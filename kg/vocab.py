"""The RDF vocabulary of kg and the one function that mints every IRI.

Terms: schema.org (`https://schema.org/`), SKOS, and kg's own terms under KG (defined in
kg/data/ontology.ttl). Resource IRIs live under a base (default DEFAULT_BASE) and are minted
from what identifies a thing in the vault: a note's vault-relative path, an entity's kind and
canonical name. Never from absolute paths or build order.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdflib import URIRef

SCHEMA_IRI = "https://schema.org/"
KG_IRI = "https://w3id.org/kg-vault/vocab#"
SKOS_IRI = "http://www.w3.org/2004/02/skos/core#"
XSD_IRI = "http://www.w3.org/2001/XMLSchema#"
RDF_IRI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_IRI = "http://www.w3.org/2000/01/rdf-schema#"
DEFAULT_BASE = "https://w3id.org/kg-vault/id/"
# PREFIXES' namespaces as plain strings, for writers that need no rdflib term (graph.ttl's header).
PREFIX_IRIS = {"schema": SCHEMA_IRI, "skos": SKOS_IRI, "kg": KG_IRI, "xsd": XSD_IRI, "rdf": RDF_IRI, "rdfs": RDFS_IRI}


def __getattr__(name: str) -> object:
    """SCHEMA, KG (rdflib Namespaces) and PREFIXES, made on first use: rdflib takes a tenth of a
    second to import, and a build that only patches its outputs mints IRIs as plain strings."""
    if name not in ("SCHEMA", "KG", "PREFIXES"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rdflib import Namespace

    schema, kg = Namespace(SCHEMA_IRI), Namespace(KG_IRI)
    prefixes = {prefix: Namespace(iri) for prefix, iri in PREFIX_IRIS.items()}
    globals().update(SCHEMA=schema, KG=kg, PREFIXES={**prefixes, "schema": schema, "kg": kg})
    return globals()[name]

# Characters kept as they are in an IRI segment; everything else is percent-encoded (UTF-8).
_SAFE_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@functools.lru_cache(maxsize=1 << 16)  # pure; an article's path is encoded once per mention
def encode_segment(text: str) -> str:
    """`text` as one IRI path segment: letters and digits of any script kept, the rest %-encoded.

    Slashes are encoded too, so `../` in a title cannot climb out of its segment, and the result
    is the same on every machine (NFC first). Distinct keys give distinct segments: `%` is encoded,
    and the empty key gives the empty segment, which no other key can.
    """
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char in _SAFE_ASCII or (ord(char) >= 0xA0 and _is_iri_letter(char)):
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
    segment = "".join(out)
    if segment and segment.strip(".") == "":
        # `.` and `..` are dot-segments: some parsers would resolve them away, so encode them.
        return "%2E" * len(segment)
    return segment


def _is_iri_letter(char: str) -> bool:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF or 0xE000 <= code <= 0xF8FF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return False
    return unicodedata.category(char)[0] in "LN"


def mint(base: str, kind: str, *keys: str) -> URIRef:
    """The IRI of a thing of `kind` identified by `keys` (e.g. a vault path, or a canonical name)."""
    from rdflib import URIRef

    return URIRef(mint_text(base, kind, *keys))


def mint_text(base: str, kind: str, *keys: str) -> str:
    """`mint` as a plain string, for callers that make many IRIs and need no rdflib term."""
    return base + kind + "/" + "/".join(encode_segment(k) for k in keys)


# What no RDF parser accepts in a literal: NUL (Raptor cuts the string there), lone surrogates
# (cannot be encoded in UTF-8) and Unicode noncharacters (Raptor rejects U+FFFE).
_NONCHARACTERS = "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
_LITERAL_INVALID = re.compile(f"[\x00\ud800-\udfff\ufdd0-\ufdef{_NONCHARACTERS}]")


def clean_literal(value: str) -> str:
    """`value` with the characters no RDF parser accepts replaced by U+FFFD; everything else kept.

    Other control characters (tab, newline, ESC, ...) stay: the serialiser escapes them.
    """
    return _LITERAL_INVALID.sub("\ufffd", value)
