"""The `kg` command. Thin: parse options, call the library, turn KgError into a message and an exit code.

Exit codes: 0 built (warnings allowed); 1 built, but with problems and --strict was given;
2 bad usage or a bad query; 3 nothing could be built (missing or empty vault, bad dictionary);
4 outputs could not be written; 5 a triple store refused or could not be reached;
6 the output does not conform to the SHACL shapes; 130 interrupted (Ctrl-C), outputs left whole.
`build --watch` ends with 0 when Ctrl-C comes between builds (130 during one).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kg import __version__
from kg.errors import DictionaryError, ExportError, KgError, NotBuiltError, PushError, QueryError, ValidationError, VaultError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_NOTHING_BUILT, EXIT_WRITE, EXIT_PUSH, EXIT_INVALID = 0, 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

_EXIT_BY_ERROR = [
    (VaultError, EXIT_NOTHING_BUILT),
    (DictionaryError, EXIT_NOTHING_BUILT),
    (ExportError, EXIT_WRITE),
    (QueryError, EXIT_USAGE),
    (NotBuiltError, EXIT_USAGE),
    (PushError, EXIT_PUSH),
    (ValidationError, EXIT_INVALID),
]


def fail(error: KgError) -> None:
    say_error(error)
    sys.exit(next((c for cls, c in _EXIT_BY_ERROR if isinstance(error, cls)), EXIT_NOTHING_BUILT))


def say_error(error: KgError) -> None:
    """The lines naming each problem behind `error`, then `kg: error:` and its hint, on stderr."""
    for problem in getattr(error, "problems", ()):
        click.echo(problem.line(), err=True)
    click.echo(f"kg: error: {error}", err=True)
    if error.hint:
        click.echo(f"kg: hint: {error.hint}", err=True)


@click.group()
@click.version_option(__version__, prog_name="kg")
def cli() -> None:
    """Turn a vault of Markdown articles into a knowledge graph."""


@cli.command()
@click.argument("vault", default="seeds", type=click.Path(path_type=Path))
@click.option("-o", "--out", default="output", type=click.Path(path_type=Path), show_default=True, help="Output folder.")
@click.option("--dictionary", "dictionaries", multiple=True, type=click.Path(path_type=Path), help="Extra entity dictionary (YAML); repeatable.")
@click.option("--strict", is_flag=True, help="Exit 1 when any note had a problem.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes for extraction and writing  [default: every core]")
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Extract on this Dask scheduler (tcp://host:8786) instead.")
@click.option("--no-cache", is_flag=True, help="Extract every note again; do not read or write OUT/.kg-cache.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="Keep the extraction cache here  [default: OUT/.kg-cache]")
@click.option("--max-nodes", type=click.IntRange(min=1), default=None, help="Draw at most N nodes in graph.html (the best connected); the page says what was left out.")
@click.option("--watch", is_flag=True, help="After the build, build again whenever a note changes (only what changed), until Ctrl-C.")
def build(
    vault: Path, out: Path, dictionaries: tuple[Path, ...], strict: bool, quiet: bool,
    jobs: int | None, scheduler: str | None, no_cache: bool, cache_dir: Path | None, max_nodes: int | None, watch: bool,
) -> None:
    """Read VAULT (default: seeds) and write graph.ttl, graph.html, graph.json, graph.graphml, report.json to OUT."""
    if not (watch or no_cache or scheduler):  # first: it makes its imports while this process makes its own
        from kg.layout import stand_by
        from kg.places import STATE_FILE, cache_folder
        from kg.processes import default_jobs

        stand_by(cache_folder(out, cache_dir) / STATE_FILE, jobs=jobs or default_jobs())
    from kg.build import build_vault
    from kg.progress import progress_bar

    def run(progress: bool) -> None:
        with progress_bar(enabled=progress and not quiet) as bar:
            result = build_vault(
                vault, out, dictionaries=dictionaries, progress=bar,
                jobs=jobs, scheduler=scheduler, cache=not no_cache, cache_dir=cache_dir,
                options={"max_nodes": max_nodes}, reuse_outputs=not no_cache, resident=watch,
            )
        _report(result, out, quiet=quiet)
        if strict and not watch and any(p.level != "info" for p in result.problems):
            sys.exit(EXIT_PROBLEMS)

    def first() -> None:
        try:
            run(progress=True)
        except KgError as error:
            fail(error)
        except KeyboardInterrupt:
            _interrupted(out)

    if watch:
        _watch(vault, out, dictionaries, cache_dir, first, run, quiet=quiet)
    else:
        first()


def _interrupted(out: Path) -> None:
    click.echo(f"kg: interrupted; {out} holds whole outputs of the last finished build, nothing half-written", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _watch(vault: Path, out: Path, dictionaries: tuple[Path, ...], cache_dir: Path | None, first, run, *, quiet: bool) -> None:  # noqa: ANN001 - build's own functions
    """`build --watch`: the `first` build as without --watch (an error ends it), then each
    rebuild's lines as a build's; an error in a rebuild is printed and the watching goes on (the
    outputs stay the last good build's).

    Ctrl-C during a build interrupts it as it would any build (exit 130). Between builds it asks
    the watching to stop (watchfiles looks every 50 ms) and the command ends with 0; a second
    Ctrl-C, should that take long, interrupts whatever runs."""
    import signal
    import threading

    from kg.watch import watch

    stop = threading.Event()
    building = interrupted_build = False

    def on_interrupt(_signum: int, _frame: object) -> None:
        nonlocal interrupted_build
        if building or stop.is_set():
            interrupted_build = building
            raise KeyboardInterrupt
        stop.set()

    def building_(work) -> None:  # noqa: ANN001 - a function
        nonlocal building
        building = True
        try:
            work()
        finally:
            building = False

    def rebuild() -> None:
        try:
            building_(lambda: run(progress=False))
        except KgError as error:
            say_error(error)

    def first_then_say() -> None:
        building_(first)
        if not quiet:
            click.echo(f"kg: watching {vault} (Ctrl-C to stop)", err=True)

    if not vault.is_dir():
        first()  # says what is wrong with the vault, as a build does
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        watch(vault, watched=dictionaries, ignored=[out, *([cache_dir] if cache_dir else [])], first=first_then_say, rebuild=rebuild, stop=stop)
    except KeyboardInterrupt:
        if interrupted_build:
            _interrupted(out)
    finally:
        signal.signal(signal.SIGINT, previous)
    if not quiet:
        click.echo("kg: stopped watching", err=True)


def _report(result, out: Path, *, quiet: bool) -> None:  # noqa: ANN001 - a kg.build.BuildResult
    from kg.build import problem_order

    for notice in result.cache.notices if result.cache else ():
        click.echo(f"kg: cache: {notice}", err=True)
    for problem in sorted(result.problems, key=problem_order):
        if problem.level != "info" or not quiet:
            click.echo(problem.line(), err=True)
    if not quiet:
        s = result.summary()
        click.echo(
            f"{s['notes']} notes read: {s['articles']} articles, {s['topics']} topics, {s['entities']} entities, "
            f"{s['edges']} edges, {s['warnings']} warnings, {s['seconds']} s -> {out}"
            + (" (nothing changed since the last build: outputs kept)" if result.unchanged else "")
            + (f" ({result.changed} note{' has' if result.changed == 1 else 's have'} changed: only what that changes was made again)" if result.changed else "")
        )


# --- query, push, validate: work on the output folder of a previous build -------------------------

_OUT = click.option("-o", "--out", default="output", type=click.Path(path_type=Path), show_default=True, help="Output folder of a previous `kg build`.")


@cli.command()
@click.argument("query")
@_OUT
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json"]), default="table", show_default=True, help="How SELECT results are printed.")
def query(query: str, out: Path, fmt: str) -> None:
    """Run the SPARQL QUERY (text, or @FILE.rq) on OUT/graph.ttl. Prefixes schema:, skos:, kg:, xsd:, rdf:, rdfs: are predeclared."""
    import shutil

    from kg.query import query_output, read_query

    try:
        text = query_output(out, read_query(query), fmt=fmt, width=shutil.get_terminal_size((120, 24)).columns)
    except KgError as error:
        fail(error)
        return
    click.echo(text, nl=False)


@cli.command()
@click.argument("url")
@_OUT
@click.option("--graph", "graph_iri", metavar="IRI", default=None, help="Named graph to replace  [default: the default graph]")
@click.option("--user", default=None, help="User name for HTTP basic authentication.")
@click.option("--password-env", metavar="VAR", default=None, help="Environment variable holding the password.")
def push(url: str, out: Path, graph_iri: str | None, user: str | None, password_env: str | None) -> None:
    """Replace a graph in the store at URL (SPARQL 1.1 Graph Store endpoint) with OUT/graph.ttl."""
    import os

    from kg.push import push_output

    password = None
    if password_env is not None:
        if password_env not in os.environ:
            raise click.UsageError(f"--password-env {password_env}: no such environment variable")
        password = os.environ[password_env]
    try:
        result = push_output(out, url, graph=graph_iri, user=user, password=password)
    except KgError as error:
        fail(error)
        return
    target = f"graph <{graph_iri}>" if graph_iri else "the default graph"
    click.echo(f"pushed {result.bytes} bytes to {target} at {url} (HTTP {result.status}, {result.seconds:.1f} s)")


@cli.command()
@_OUT
def validate(out: Path) -> None:
    """Check OUT/graph.ttl against the SHACL shapes shipped with kg; exit 6 when it does not conform."""
    from kg.validate import summary, validate_output

    try:
        report = validate_output(out)
    except KgError as error:
        fail(error)
        return
    click.echo("\n".join(summary(report)), err=not report.conforms)
    if not report.conforms:
        sys.exit(EXIT_INVALID)


def main() -> None:
    """Run the command, then end the process as Python would, but for tearing the interpreter
    down object by object: atexit's handlers run and standard output and error are flushed, and
    the graph a build leaves behind (millions of objects: a few tenths of a second to free) is
    simply left to the operating system with the rest of the process."""
    import os

    # kg does no linear algebra, but numpy's OpenBLAS starts threads when imported
    # that spin a while waiting for work that never comes: a tenth of a second of CPU a build,
    # taken from the build's own processes on a small machine. One thread (a user's setting stands).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        cli(prog_name="kg")
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):  # what sys.exit("message") would print
        click.echo(code, err=True)
        code = 1
    _exit(code or 0)


def _exit(code: int) -> None:
    import atexit
    import os

    run = getattr(atexit, "_run_exitfuncs", None)  # CPython's own: what interpreter exit runs first
    if run is None:
        sys.exit(code)
    run()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
