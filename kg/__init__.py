"""kg: turn a vault of Chinese Markdown articles into a knowledge graph."""

from __future__ import annotations

__version__ = "0.1.0"

from kg.errors import KgError

__all__ = ["KgError", "__version__"]
