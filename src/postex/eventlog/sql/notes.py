"""Signed tree heads on SQL: the site's C2SP checkpoint note at each checkpoint and the
witness cosignatures (postex.eventlog.notes), beside the ``checkpoints`` rows."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from postex.eventlog.checkpoints import Signer
from postex.eventlog.notes import TreeHead, note, origin_of, sign_line
from postex.eventlog.sql.engine import readable
from postex.eventlog.sql.fast import execute, fetchall
from postex.eventlog.sql.tree import SqlTree


def sign_tree_head(
    conn: Connection, signer: Signer, site: str, size: int, at: str, tree: SqlTree | None = None
) -> str:
    """Sign the site's tree head at ``size`` as a checkpoint note and store it (in the
    caller's transaction, with the checkpoint of the same seq; ``tree``: the append's)."""
    head = TreeHead(origin_of(site), size, (tree or SqlTree(conn, site)).root(size))
    text = note(head, sign_line(head, head.origin, signer))
    execute(
        conn,
        "INSERT INTO tree_notes (site, size, root, note, signed_at) VALUES (?, ?, ?, ?, ?)",
        (site, size, head.root, text, at),
    )
    return text


class SqlNotes:
    """The signed tree heads and cosignatures of one database (a site's or the hub's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        with readable(self.engine, "signed tree heads"), self.engine.connect() as conn:
            return fetchall(conn, sql, params)

    def latest(self, site: str) -> tuple[int, str] | None:
        """(size, note) of the site's newest signed tree head."""
        rows = self._rows(
            "SELECT size, note FROM tree_notes WHERE site = ? ORDER BY size DESC LIMIT 1", (site,)
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None  # type: ignore[call-overload]

    def covering(self, site: str, seq: int) -> tuple[int, str] | None:
        """(size, note) of the smallest signed tree head that includes event ``seq``, with
        every cosignature it was given appended."""
        rows = self._rows(
            "SELECT size, note FROM tree_notes WHERE site = ? AND size >= ? ORDER BY size LIMIT 1",
            (site, seq),
        )
        if not rows:
            return None
        size = int(rows[0][0])  # type: ignore[call-overload]
        return size, str(rows[0][1]) + "".join(self.cosignatures(site, size))

    def cosignatures(self, site: str, size: int) -> list[str]:
        rows = self._rows(
            "SELECT line FROM tree_cosignatures WHERE site = ? AND size = ? ORDER BY witness",
            (site, size),
        )
        return [str(r[0]) for r in rows]

    def last_cosigned(self, site: str, witness: str) -> tuple[int, bytes] | None:
        """(size, root) of the newest tree head ``witness`` cosigned for ``site``."""
        rows = self._rows(
            "SELECT size, root FROM tree_cosignatures WHERE site = ? AND witness = ?"
            " ORDER BY size DESC LIMIT 1",
            (site, witness),
        )
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None  # type: ignore[call-overload]

    def save_cosignature(
        self, site: str, size: int, witness: str, root: bytes, line: str, at: str
    ) -> None:
        """Keep a cosignature line (the first one per site, size and witness)."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                have = fetchall(
                    conn,
                    "SELECT 1 FROM tree_cosignatures WHERE site = ? AND size = ? AND witness = ?",
                    (site, size, witness),
                )
                if not have:
                    execute(
                        conn,
                        "INSERT INTO tree_cosignatures (site, size, witness, root, line,"
                        " cosigned_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (site, size, witness, root, line, at),
                    )

    def note_at(self, site: str, size: int) -> str | None:
        """The site's own signed tree head note at ``size`` (no cosignatures), if it has one."""
        rows = self._rows("SELECT note FROM tree_notes WHERE site = ? AND size = ?", (site, size))
        return str(rows[0][0]) if rows else None

    def uncosigned_after(self, site: str, after: int, until: int) -> list[int]:
        """Sizes in (after, until] of the site's signed tree heads that no witness cosigned."""
        rows = self._rows(
            "SELECT n.size FROM tree_notes n WHERE n.site = ? AND n.size > ? AND n.size <= ?"
            " AND NOT EXISTS (SELECT 1 FROM tree_cosignatures c WHERE c.site = n.site"
            " AND c.size = n.size) ORDER BY n.size",
            (site, after, until),
        )
        return [int(r[0]) for r in rows]  # type: ignore[call-overload]

    def cosigned_after(
        self, site: str, witness: str, after: int, limit: int
    ) -> list[tuple[int, str]]:
        """(size, line) of ``witness``'s cosignatures for ``site`` above ``after``, oldest
        first, at most ``limit`` (the hub answering a site that catches up)."""
        rows = self._rows(
            "SELECT size, line FROM tree_cosignatures WHERE site = ? AND witness = ? AND size > ?"
            f" ORDER BY size LIMIT {int(limit)}",
            (site, witness, after),
        )
        return [(int(r[0]), str(r[1])) for r in rows]  # type: ignore[call-overload]
