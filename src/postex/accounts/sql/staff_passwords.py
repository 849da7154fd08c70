"""Staff console passwords in SQL: ``staff_passwords``, written in the use case's transaction.

Not a projection, and never in the log: the argon2id hashes stay on this node (no event
carries them, so neither the hub nor a backup of the log holds them). A rebuild leaves the
table as it is, except that a ``user.created.v1`` of an old log still carrying a hash puts
it here when the user has none yet (:func:`adopt_hashes`). After a restore onto a new
node, staff set their passwords again (``postex users password``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, String, Table, Text, select, update

from postex.eventlog.sql.schema import metadata

staff_passwords = Table(
    "staff_passwords",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("set_at", String(32), nullable=False),
)


def adopt_hashes(conn: Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """(user id, hash, at) from old ``user.created.v1`` bodies, for users without one yet
    (a password set since, with ``postex users password``, is kept)."""
    t = staff_passwords
    for user_id, hashed, at in rows:
        if conn.execute(select(t.c.user_id).where(t.c.user_id == user_id)).first() is None:
            conn.execute(t.insert().values(user_id=user_id, password_hash=hashed, set_at=at))


class SqlStaffPasswords:
    """:class:`postex.accounts.app.staff.StaffPasswords` on the node's database."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> str | None:
        t = staff_passwords
        return self.conn.execute(
            select(t.c.password_hash).where(t.c.user_id == user_id)
        ).scalar()  # fmt: skip

    def set(self, user_id: str, password_hash: str, at: str) -> None:
        t = staff_passwords
        done = self.conn.execute(
            update(t).where(t.c.user_id == user_id).values(password_hash=password_hash, set_at=at)
        )
        if not done.rowcount:
            self.conn.execute(
                t.insert().values(user_id=user_id, password_hash=password_hash, set_at=at)
            )
