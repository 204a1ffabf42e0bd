"""Check a built graph against the SHACL shapes shipped in kg/data/shapes.ttl, with pyshacl.

No inference (the graph states every type it relies on), so the check is exactly what a store
loading graph.ttl would see. The result is data; the CLI decides how to print it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import rdflib
from rdflib.namespace import SH

from kg.errors import ValidationError
from kg.query import graph_path, load_store, run, show


# message -> (path, query selecting ?focus ?value for every node that breaks the rule).
# MINUS, not FILTER NOT EXISTS: Oxigraph evaluates it as a hash join (0.02 s instead of 29 s).
SPARQL_CHECKS = {
    "schema:mentions has no kg:Mention with its evidence": (
        "schema:mentions",
        """SELECT ?focus ?value WHERE {
             ?focus schema:mentions ?value .
             MINUS { ?mention a kg:Mention ; kg:article ?focus ; kg:entity ?value }
           }""",
    ),
    "a kg:Mention whose article does not schema:mentions its entity": (
        "kg:entity",
        """SELECT ?focus ?value WHERE {
             ?focus a kg:Mention ; kg:article ?article ; kg:entity ?value .
             MINUS { ?article schema:mentions ?value }
           }""",
    ),
    "more than one kg:Mention for the same (article, entity) pair": (
        "kg:article",
        """SELECT ?focus ?value WHERE {
             { SELECT ?value ?entity WHERE { ?mention a kg:Mention ; kg:article ?value ; kg:entity ?entity }
               GROUP BY ?value ?entity HAVING (COUNT(?mention) > 1) }
             ?focus a kg:Mention ; kg:article ?value ; kg:entity ?entity .
           }""",
    ),
}


@dataclass(frozen=True, order=True)
class Violation:
    """One SHACL result: which node broke which constraint, and what the shape says about it."""

    focus: str
    path: str
    message: str
    value: str = ""
    severity: str = "Violation"


@dataclass(frozen=True)
class Report:
    """The outcome of one validation run."""

    path: Path
    triples: int
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def conforms(self) -> bool:
        return not self.violations

    def by_message(self) -> list[tuple[str, int]]:
        """(message, how many) for each distinct message, most frequent first."""
        counts = Counter(v.message for v in self.violations)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def shapes_text() -> str:
    return (resources.files("kg") / "data" / "shapes.ttl").read_text(encoding="utf-8")


def ontology_text() -> str:
    return (resources.files("kg") / "data" / "ontology.ttl").read_text(encoding="utf-8")


def validate_file(path: Path) -> Report:
    """Validate the Turtle file `path`; a file that does not parse is itself a ValidationError."""
    started = time.perf_counter()
    data = rdflib.Graph()
    try:
        data.parse(path, format="turtle")
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"{path}: not valid Turtle ({exc})") from exc
    shapes = rdflib.Graph().parse(data=shapes_text(), format="turtle")
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False, allow_warnings=False)
    found = violations(results) + sparql_violations(load_store(Path(path)))
    return Report(path=Path(path), triples=len(data), violations=sorted(found), seconds=time.perf_counter() - started)


def sparql_violations(store: ox.Store) -> list[Violation]:
    """The checks core SHACL cannot state, run as SPARQL on Oxigraph (rdflib takes minutes on them)."""
    out = []
    for message, (path, query) in SPARQL_CHECKS.items():
        for focus, value in run(store, query):
            out.append(Violation(focus=focus.value, path=path, message=message, value=show(value)))
    return out


def validate_output(out: Path) -> Report:
    """Validate OUT/graph.ttl of a previous build."""
    return validate_file(graph_path(out))


def violations(results: rdflib.Graph) -> list[Violation]:
    """Every sh:ValidationResult in a pyshacl results graph, sorted."""
    out = []
    for result in results.subjects(rdflib.RDF.type, SH.ValidationResult):
        def one(prop: rdflib.URIRef, result: rdflib.term.Node = result) -> str:
            value = results.value(result, prop)
            return "" if value is None else str(value)

        path = results.value(result, SH.resultPath)
        out.append(
            Violation(
                focus=one(SH.focusNode),
                path=_path_text(results, path),
                message=one(SH.resultMessage) or _constraint_name(one(SH.sourceConstraintComponent)),
                value=one(SH.value),
                severity=one(SH.resultSeverity).rsplit("#", 1)[-1],
            )
        )
    return sorted(out)


def _path_text(results: rdflib.Graph, path: rdflib.term.Node | None) -> str:
    if path is None:
        return ""
    inverse = results.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + inverse.n3(results.namespace_manager)
    return path.n3(results.namespace_manager)


def _constraint_name(component: str) -> str:
    return component.rsplit("#", 1)[-1] or "constraint violated"


def summary(report: Report, *, limit: int = 20) -> list[str]:
    """Lines that tell a person what is wrong: one per kind of message, then the first few nodes."""
    if report.conforms:
        return [f"{report.path}: conforms to the shapes ({report.triples} triples, {report.seconds:.1f} s)"]
    lines = [f"{report.path}: {len(report.violations)} violation(s) of the shapes ({report.triples} triples, {report.seconds:.1f} s)"]
    lines += [f"  {count} x {message}" for message, count in report.by_message()]
    for v in report.violations[:limit]:
        value = f" value {v.value}" if v.value else ""
        lines.append(f"  <{v.focus}> {v.path}: {v.message}{value}")
    if len(report.violations) > limit:
        lines.append(f"  ... and {len(report.violations) - limit} more")
    return lines
