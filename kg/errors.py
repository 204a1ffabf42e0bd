"""The one exception hierarchy of kg. The CLI maps each class to an exit code."""

from __future__ import annotations


class KgError(Exception):
    """Base class of every error kg raises on purpose."""

    hint: str = ""


class VaultError(KgError):
    """The vault cannot be read at all (missing, not a folder, empty)."""

    problems: tuple = ()  # the kg.model.Problem of each file that could not be read


class DictionaryError(KgError):
    """An entity dictionary file is malformed."""


class ExportError(KgError):
    """An output file could not be produced or written."""


class QueryError(KgError):
    """A SPARQL query could not be parsed or run."""


class NotBuiltError(KgError):
    """An output folder has no graph.ttl yet, so there is nothing to query, push or validate."""

    hint = "run `kg build VAULT -o OUT` first, or pass the folder of a previous build with -o"


class PushError(KgError):
    """A triple store refused a push or could not be reached."""


class ValidationError(KgError):
    """The output does not conform to the shipped SHACL shapes."""


class ExtractionError(KgError):
    """Extraction could not run: worker processes died, or a Dask scheduler failed or could not be reached."""
