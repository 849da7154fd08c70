"""Options and helpers shared by every command: --db, --home, --site, --json, exit codes.

Exit codes: 0 ok, 1 an integrity failure was found (data was read and found wrong), 2 bad
usage or input, or a database or service that cannot be reached. With ``--json`` an error is
one JSON document on stdout too (``{"ok": false, "error": {...problem}}``).

Every command module imports this one at start-up, so it imports nothing heavier than
Typer and rich's console: the node (bootstrap, SQLAlchemy) is built only by a command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
import typer.core
from rich.console import Console

from postex.kernel.errors import IntegrityError, PostexError

if TYPE_CHECKING:
    from postex.bootstrap import Container
    from postex.config import Settings

P = ParamSpec("P")
T = TypeVar("T")

EXIT_OK, EXIT_INTEGRITY, EXIT_USAGE = 0, 1, 2

err = Console(stderr=True)
out = Console()

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: the configured SQLite file).", show_default=False
    ),
]
HomeOpt = Annotated[
    str | None,
    typer.Option(
        "--home", help="Data directory for the SQLite file and key files (default ./var)."
    ),
]
SiteOpt = Annotated[
    str | None, typer.Option("--site", help="This node's site code (IMPC), e.g. GBLALA.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


TOKEN_ENV = "POSTEX_TOKEN"  # noqa: S105 (the variable's name, not a token)
TokenFileOpt = Annotated[
    str | None,
    typer.Option(
        "--token-file",
        help=f"Read your staff token (pxk_…) from this file's first line (or set {TOKEN_ENV}).",
        show_default=False,
    ),
]
TokenStdinOpt = Annotated[
    bool, typer.Option("--token-stdin", help="Read your staff token from stdin (one line).")
]
ArgvTokenOpt = Annotated[
    str | None, typer.Option("--token", hidden=True, help="Refused: use --token-file.")
]


def staff_token(token_file: str | None, token_stdin: bool, argv_token: str | None) -> str | None:
    """The staff token from ``--token-stdin``, ``--token-file`` or ``$POSTEX_TOKEN`` (None: none).

    Never from the command line: ``ps`` shows every user the arguments of every process, so
    ``--token`` is refused (the token given that way should be rotated).
    """
    import os
    from pathlib import Path

    from postex.kernel.errors import UnauthenticatedError

    if argv_token is not None:
        raise UnauthenticatedError(
            "--token is refused: the command line is visible to other users (ps); pass the "
            f"token in {TOKEN_ENV}, --token-file PATH or --token-stdin, and rotate this one "
            "(`postex users keys rotate`)"
        )
    if token_stdin and token_file:
        raise UnauthenticatedError("give --token-stdin or --token-file, not both")
    if token_stdin:
        token = sys.stdin.readline().strip()
    elif token_file:
        try:
            token = (Path(token_file).read_text().splitlines() or [""])[0].strip()
        except OSError as exc:
            raise UnauthenticatedError(
                f"cannot read the token file {token_file}: {exc.strerror}"
            ) from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
    if not token:
        raise UnauthenticatedError("the staff token given is empty")
    return token


class Group(typer.core.TyperGroup):
    """A command group (``typer.Typer(cls=Group)``) whose unset ``--help`` is False, not None.

    Typer coerces every parameter value that is not already a bool through a pydantic
    TypeAdapter, so ``postex holds --help`` imported pydantic (longer to import than Typer
    itself) only to read the root group's unset flag as None.
    """

    # The base method takes Typer's vendored click Context, which Typer does not export.
    def get_help_option(  # type: ignore[override]
        self, ctx: typer.Context
    ) -> typer.core.TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option


def container(
    db: str | None, home: str | None = None, site: str | None = None, create: bool = False
) -> Container:
    from postex.bootstrap import build
    from postex.config import load_settings

    return build(load_settings(db_url=db, home=home, site=site), create=create)


def claimed(db: str | None, home: str | None = None, site: str | None = None) -> Container:
    """The node for a command that runs it: refused if the configured role contradicts the
    database's (recorded on first use)."""
    from postex.bootstrap import build
    from postex.config import load_settings

    return build(load_settings(db_url=db, home=home, site=site), claim=True)


MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        help="Serve Prometheus /metrics on this port (default: the metrics_port setting; "
        "0: off). See docs/monitoring.md.",
        show_default=False,
    ),
]


def start_metrics(settings: Settings, c: Container, port: int | None) -> Callable[[], None]:
    """``/metrics`` of a long-running command on ``port`` (or the setting); returns its
    ``stop`` (a no-op when off). A port in use is a usage error, said before any work."""
    from postex.http.metrics_server import serve_metrics

    port = settings.metrics_port if port is None else port
    if not port or not settings.metrics:
        return lambda: None
    try:
        stop = serve_metrics(c, port, settings.metrics_host)
    except OSError as exc:
        c.close()
        err.print(f"[red]cannot serve /metrics on {settings.metrics_host}:{port}[/red]: "
                  f"{exc.strerror or exc.__class__.__name__}")  # fmt: skip
        raise typer.Exit(EXIT_USAGE) from None
    err.print(f"metrics at http://{settings.metrics_host}:{port}/metrics")
    return stop


def start_logs(settings: Settings) -> None:
    """Structured logs for a long-running command: JSON lines, or console lines on a
    terminal (``log_format``, ``log_level``; docs/monitoring.md)."""
    from postex import logs

    logs.configure(settings.log_format, settings.log_level)


_printed_json: list[bool] = [False]  # whether the running command printed its document


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    _printed_json[0] = True


def _connection_problem(exc: Exception) -> PostexError | None:
    """A database connection lost or refused in the middle of a command, as one line
    (the driver's traceback and the URL's password never reach the operator's screen)."""
    module = type(exc).__module__
    if not module.startswith(("sqlalchemy", "psycopg", "sqlite3")):
        return None
    from sqlalchemy.exc import InterfaceError, OperationalError

    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    from postex.kernel.errors import StoreUnreachableError

    first = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["connection lost"])[0]
    return StoreUnreachableError(
        f"lost the database connection: {first[:200]}; check that the database server is "
        "running and reachable, then run the command again"
    )


def _fail(exc: PostexError, code: int, as_json: bool) -> typer.Exit:
    problem = exc.to_problem()
    if as_json and not _printed_json[0]:  # a report printed before the exit stands alone
        emit_json({"ok": False, "exit_code": code, "error": problem})
    if isinstance(exc, IntegrityError):
        err.print(f"[red]integrity failure:[/red] {exc.detail}", soft_wrap=True)
    else:
        where = f" (field {problem['field']}, rule {problem['rule']})" if "field" in problem else ""
        err.print(f"[red]error:[/red] {exc.detail}{where}", soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn Postex errors into a one-line message on stderr (and, with ``--json``, one JSON
    document on stdout) and the documented exit code."""

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        as_json = bool(kwargs.get("as_json"))
        _printed_json[0] = False
        try:
            return fn(*args, **kwargs)
        except IntegrityError as exc:
            raise _fail(exc, EXIT_INTEGRITY, as_json) from None
        except PostexError as exc:
            raise _fail(exc, EXIT_USAGE, as_json) from None
        except Exception as exc:
            lost = _connection_problem(exc)
            if lost is None:
                raise
            raise _fail(lost, EXIT_USAGE, as_json) from None

    return run


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``update(done)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int) -> None:
            bar.update(task, completed=done)

        yield update


def tune_gc() -> None:
    """The collector's thresholds of every ``postex`` process (and the benchmarks' node
    processes, which must run as ``postex`` would). Appends and replicated copies allocate
    many short-lived objects per batch; collecting the young generation every 700
    allocations (the default) costs 5-10 % of append throughput, and a third of a
    follower's copy, for no gain."""
    import gc

    gc.set_threshold(100_000, 50, 100)
