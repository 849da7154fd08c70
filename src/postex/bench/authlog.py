"""``postex bench authlog``: the append path and ``postex verify`` with the authenticated log
against the same code without it (no log key: no head check, no MAC, no anchor), same run.

One scratch node per store kind; each round appends N pre-advised item events in
transactions of ``batch`` with its log key and N without (the node as if it held none;
the head is authenticated again after), the order alternating by round, then verifies the
log with and without authenticating it; the ratios are medians of the per-round ratios.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from postex.bench.appending import preadvice_appender
from postex.bench.common import median, scratch_node, timed
from postex.bench.storage import flush_to_disk
from postex.bootstrap import Container
from postex.eventlog.authlog import NoAuthority
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.verify import SiteReport
from postex.network.app.integrity import verify_store


@dataclass
class AuthlogResult:
    store: str
    events: int
    batch: int
    append_with: float  # events/s, authenticated log
    append_without: float
    append_ratio: float
    verify_with: float
    verify_without: float
    verify_ratio: float


@contextmanager
def _without_log_key(c: Container) -> Iterator[None]:
    """The node as if it held no log key (the code path before the authenticated log); after,
    the head it reached is authenticated again under the key, as a restore does."""
    sql = c._sql
    authority = sql.authority
    sql.authority = NoAuthority()
    sql._keys.clear()
    try:
        yield
    finally:
        sql.authority = authority
        sql._keys.clear()
        key = authority.key(c.settings.site)
        assert key is not None
        seq, digest = sql.head(c.settings.site)
        ph = sql.ph
        execute_raw(
            c.engine, f"UPDATE log_heads SET seq = {ph}, hash = {ph}, mac = {ph} WHERE site = {ph}",
            [seq, digest, key.mac(seq, digest), c.settings.site],
        )  # fmt: skip


def bench_authlog(
    kind: str,
    events: int,
    batch: int = 1000,
    rounds: int = 3,
    pg_url: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> AuthlogResult:
    with scratch_node(kind, pg_url) as c:
        append_batches = preadvice_appender(c, batch)

        def run() -> None:
            append_batches(events // batch)

        def append(authenticated: bool) -> float:
            flush_to_disk(c.engine)
            with nullcontext() if authenticated else _without_log_key(c):
                seconds = timed(run, lambda: flush_to_disk(c.engine))
            return (events // batch) * batch / seconds

        def verify(authenticated: bool) -> float:
            trusted = c.trusted_keys()
            total = c.store.head(c.settings.site)[0]
            authority = c.authority if authenticated else None
            reports: list[SiteReport] = []
            seconds = timed(
                lambda: reports.extend(
                    verify_store(c.store, trusted, c.settings.site, authority=authority)
                )
            )
            if not all(r.ok for r in reports):
                raise RuntimeError("the benchmark's own log did not verify")
            return total / seconds

        a_with: list[float] = []
        a_without: list[float] = []
        v_with: list[float] = []
        v_without: list[float] = []
        for r in range(rounds):
            pair = [(True, a_with, v_with), (False, a_without, v_without)]
            for authenticated, out, _ in pair if r % 2 == 0 else reversed(pair):
                out.append(append(authenticated))
            for authenticated, _, vout in pair if r % 2 == 0 else reversed(pair):
                vout.append(verify(authenticated))
            progress(
                f"{kind} round {r + 1}/{rounds} (batch {batch}): append {a_with[-1]:,.0f}/s with, "
                f"{a_without[-1]:,.0f}/s without; verify {v_with[-1]:,.0f}/s with, "
                f"{v_without[-1]:,.0f}/s without"
            )
        return AuthlogResult(
            kind, events, batch, median(a_with), median(a_without),
            median([w / o for w, o in zip(a_with, a_without, strict=True)]),
            median(v_with), median(v_without),
            median([w / o for w, o in zip(v_with, v_without, strict=True)]),
        )  # fmt: skip
