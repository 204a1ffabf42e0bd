"""The one exception hierarchy of kg. The CLI maps each class to an exit code."""

from __future__ import annotations


class KgError(Exception):
    """Base class of every error kg raises on purpose."""

    hint: str = ""


class VaultError(KgError):
    """The vault cannot be read at all (missing, not a folder, empty)."""


class DictionaryError(KgError):
    """An entity dictionary file is malformed."""


class ExportError(KgError):
    """An output file could not be produced or written."""


class QueryError(KgError):
    """A SPARQL query could not be parsed or run."""


class PushError(KgError):
    """A triple store refused a push or could not be reached."""


class ValidationError(KgError):
    """The output does not conform to the shipped SHACL shapes."""


class ExtractionError(KgError):
    """Extraction could not run: worker processes died, or a Dask scheduler failed or could not be reached."""
