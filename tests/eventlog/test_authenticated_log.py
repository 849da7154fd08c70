"""Someone with write access to the database, without the site's log key (issue #15).

Each attack rewrites the log *consistently*: every hash recomputed, the heads projection
moved, the checkpoints that would betray it deleted. The chain and the remaining
checkpoints then verify; only the authenticated head (MAC'd under the log key kept in the
key directory), the local anchor and site-bound checkpoint keys find it.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postex.accounts.app.auth import CredentialRepository, Role, authenticate, issue_token
from postex.bootstrap import Container, replication
from postex.eventlog.canonical import canonical
from postex.eventlog.chain import event_hash
from postex.eventlog.checkpoints import make_checkpoint
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.kernel.errors import IntegrityError, UnauthenticatedError
from postex.network.app.integrity import verify_store
from postex.network.log_keys import anchor_path
from postex.network.signing import load_or_create_signer
from tests.eventlog.test_tamper import populate
from tests.factories import new_customer, new_items

SITE = "GBLALA"
runner = CliRunner()


def q(node: Container, sql: str) -> str:
    return sql.replace("?", "%s") if is_postgres(node.engine) else sql


def cli(node: Container, *args: str) -> tuple[int, dict[str, Any]]:
    home = ["--db", node.settings.db_url, "--home", str(node.settings.home)]
    result = runner.invoke(app_(), [*args, *home, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


def app_() -> Any:
    from postex.cli.main import app

    return app


def verify_cli(node: Container) -> tuple[int, dict[str, Any]]:
    return cli(node, "verify")


def bad_site(report: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in report["sites"] if s["first_bad_seq"] is not None)


def rows_from(node: Container, seq: int) -> list[list[Any]]:
    found = execute_raw(
        node.engine,
        q(node, "SELECT seq, recorded_at, type, body FROM events WHERE site = ? AND seq >= ? "
                "ORDER BY seq"),
        [SITE, seq],
    )  # fmt: skip
    return [[r[0], r[1], r[2], bytes(r[3])] for r in found]


def hash_at(node: Container, seq: int) -> bytes:
    if seq == 0:
        return bytes(32)
    found = execute_raw(
        node.engine, q(node, "SELECT hash FROM events WHERE site = ? AND seq = ?"), [SITE, seq]
    )
    return bytes(found[0][0])


def set_heads(node: Container, seq: int, digest: bytes, at: str) -> None:
    """What a careful attacker does to the heads projection (so writes link on)."""
    execute_raw(
        node.engine, q(node, "UPDATE heads SET seq = ?, hash = ?, recorded_at = ? WHERE site = ?"),
        [seq, digest, at, SITE],
    )  # fmt: skip


def rewrite_from(node: Container, first: int, change: dict[int, bytes]) -> None:
    """Replace bodies and recompute every hash from ``first`` on (a consistent rewrite)."""
    prev = hash_at(node, first - 1)
    last_at = ""
    for seq, recorded_at, type_, stored in rows_from(node, first):
        body = change.get(seq, stored)
        digest = event_hash(prev, SITE, seq, recorded_at, type_, body)
        execute_raw(
            node.engine,
            q(node, "UPDATE events SET body = ?, prev_hash = ?, hash = ? "
                    "WHERE site = ? AND seq = ?"),
            [body, prev, digest, SITE, seq],
        )  # fmt: skip
        prev, last_at = digest, recorded_at
    set_heads(node, seq, prev, last_at)


def forge_append(node: Container, type_: str, body: bytes) -> int:
    """Append one well-hashed event after the head, as someone with only the database."""
    seq, prev = node.store.head(SITE)
    at = "2099-01-01T00:00:00.000000Z"
    digest = event_hash(prev, SITE, seq + 1, at, type_, body)
    execute_raw(
        node.engine,
        q(node, "INSERT INTO events (site, seq, recorded_at, type, body, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"),
        [SITE, seq + 1, at, type_, body, prev, digest],
    )  # fmt: skip
    set_heads(node, seq + 1, digest, at)
    return seq + 1


@pytest.fixture
def populated(node: Container) -> Container:
    populate(node)
    return node


def test_an_untouched_log_is_authenticated(populated: Container) -> None:
    code, report = verify_cli(populated)
    assert code == 0, report
    assert report["sites"][0]["authenticated"] is True


def test_a_rewritten_history_with_its_checkpoints_deleted_is_found(populated: Container) -> None:
    """(a) Event 12 edited, every later hash recomputed, the checkpoints from 12 on deleted:
    chain and checkpoints verify, but the log no longer ends in the MAC'd head's hash."""
    (body,) = rows_from(populated, 12)[0][3:]
    rewrite_from(populated, 12, {12: body[:-1] + b',"edited":true}'})
    execute_raw(populated.engine, q(populated, "DELETE FROM checkpoints WHERE seq >= 12"))
    code, report = verify_cli(populated)
    assert code == 1, report
    bad = bad_site(report)
    # No checkpoint before 12 is left (the first was at 15): the change lies anywhere in
    # 1..head, and verify says so rather than guess.
    assert bad["first_bad_seq"] == 1, bad
    assert "history rewritten" in bad["reason"] and "an event in 1.." in bad["reason"]


def test_a_rewrite_after_a_matching_checkpoint_is_placed_after_it(populated: Container) -> None:
    """(a) with a checkpoint left before the change: the fault is named right after it."""
    first = populated.store.checkpoints(SITE)[0].seq
    target = first + 3
    (body,) = rows_from(populated, target)[0][3:]
    rewrite_from(populated, target, {target: body[:-1] + b',"edited":true}'})
    execute_raw(populated.engine, q(populated, "DELETE FROM checkpoints WHERE seq > ?"), [first])
    code, report = verify_cli(populated)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == first + 1, bad
    assert "history rewritten" in bad["reason"]


def test_a_cut_tail_with_its_checkpoints_deleted_is_found(populated: Container) -> None:
    """(b) The last 20 events cut and the later checkpoints deleted."""
    head = populated.store.head(SITE)[0]
    keep = head - 20
    execute_raw(populated.engine, q(populated, "DELETE FROM events WHERE seq > ?"), [keep])
    execute_raw(populated.engine, q(populated, "DELETE FROM checkpoints WHERE seq > ?"), [keep])
    set_heads(populated, keep, hash_at(populated, keep), "2026-01-01T00:00:00.000000Z")
    code, report = verify_cli(populated)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == keep + 1
    assert f"authenticated head is {head}" in bad["reason"]


def test_a_rollback_of_the_head_row_too_is_found_by_the_local_anchor(node: Container) -> None:
    """(b) The tail cut *and* the head row put back to an older, validly MAC'd copy (a
    database file put back): only the anchor outside the database knows better."""
    node.store.checkpoint_every = 10  # type: ignore[attr-defined]
    customer = new_customer(node)
    new_items(node, customer.record.id, 3)
    old_row = execute_raw(node.engine, q(node, "SELECT seq, hash, mac FROM log_heads"))[0]
    old_seq = int(old_row[0])
    new_items(node, customer.record.id, 15)  # crosses a checkpoint: the anchor moves on
    node.admin.checkpoint_now(SITE)
    anchor = node.authority.anchor(SITE)
    assert anchor is not None and anchor.seq > old_seq
    execute_raw(node.engine, q(node, "DELETE FROM events WHERE seq > ?"), [old_seq])
    execute_raw(node.engine, q(node, "DELETE FROM checkpoints WHERE seq > ?"), [old_seq])
    execute_raw(
        node.engine, q(node, "UPDATE log_heads SET seq = ?, hash = ?, mac = ?"), list(old_row)
    )
    set_heads(node, old_seq, bytes(old_row[1]), "2026-01-01T00:00:00.000000Z")
    code, report = verify_cli(node)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == old_seq + 1
    assert f"local anchor holds {anchor.seq}" in bad["reason"]


def test_a_deleted_head_row_is_found_when_the_anchor_exists(populated: Container) -> None:
    execute_raw(populated.engine, "DELETE FROM log_heads")
    code, report = verify_cli(populated)
    assert code == 1
    assert "authenticated head is missing" in bad_site(report)["reason"]
    with pytest.raises(IntegrityError, match="authenticated head is missing"):
        new_customer(populated)


def test_a_forged_credential_is_never_taken_into_use(populated: Container) -> None:
    """(c) A credential.issued.v1 for the operations role, with a secret of the attacker's
    choosing, appended with valid hashes: `postex rebuild` refuses it (exit 1, naming its
    seq), the token never works, the node signs no checkpoint over it (an alarm instead),
    the next write is refused, and verify names it."""
    forged = issue_token("staff", "usr_attacker", Role.OPS, site=SITE, name="attacker")
    seq = forge_append(populated, forged.event.TYPE, canonical(forged.event.to_body()))

    home = ["--db", populated.settings.db_url, "--home", str(populated.settings.home)]
    result = runner.invoke(app_(), ["rebuild", *home])
    assert result.exit_code == 1, result.output
    assert f"seq {seq}" in result.stderr and "not authenticated" in result.stderr
    with populated.store.read() as uow, pytest.raises(UnauthenticatedError):
        authenticate(uow.repo(CredentialRepository), forged.token)

    signed = [cp.seq for cp in populated.store.checkpoints(SITE)]
    with pytest.raises(IntegrityError, match="not authenticated") as refused:
        populated.admin.checkpoint_now(SITE)
    assert refused.value.seq == seq
    assert [cp.seq for cp in populated.store.checkpoints(SITE)] == signed  # nothing signed
    alarms = replication(populated).state.alarms()
    assert [(a.site, a.seq, a.kind) for a in alarms] == [(SITE, seq, "unauthenticated-log")]

    with pytest.raises(IntegrityError, match="not authenticated"):
        new_customer(populated)
    assert populated.store.head(SITE)[0] == seq  # nothing written after the forged event

    code, report = verify_cli(populated)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == seq and "not authenticated" in bad["reason"]


def test_events_slipped_in_behind_the_heads_back_are_refused_at_the_next_write(
    populated: Container,
) -> None:
    """A forged event without a moved heads row: the next append does not overwrite or
    chain onto it; it is refused, nothing is written."""
    head = populated.store.head(SITE)
    forge_append(populated, "test.thing.v1", b'{"n":1}')
    set_heads(populated, head[0], head[1], "2026-01-01T00:00:00.000000Z")
    with pytest.raises(IntegrityError, match=f"events {head[0] + 1}..{head[0] + 1}"):
        new_customer(populated)


def test_a_checkpoint_signed_by_another_sites_key_does_not_count(populated: Container) -> None:
    """(d) A key this node trusts for another site signs nothing for this one."""
    other = load_or_create_signer(populated.settings.keys_dir, "FRCDGA")  # trusted, not GBLALA's
    seq, digest = populated.store.head(SITE)
    at = "2026-01-01T00:00:00.000000Z"
    populated.admin.save_checkpoint(
        make_checkpoint(other, SITE, seq - 1, hash_at(populated, seq - 1), at)
    )
    code, report = verify_cli(populated)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == seq - 1
    assert bad["reason"] == "checkpoint is signed by a key not trusted for GBLALA"
    assert digest  # the log itself is untouched


def test_an_upgraded_log_is_trusted_on_first_use_then_authenticated(node: Container) -> None:
    """A log written before the authenticated log (no head row, no anchor) verifies; the
    next write records its authenticated head and anchor."""
    customer = new_customer(node)
    execute_raw(node.engine, "DELETE FROM log_heads")
    anchor_path(node.settings.keys_dir, SITE).unlink(missing_ok=True)
    reports = verify_store(node.store, node.trusted_keys(), SITE, authority=node.authority)
    assert reports[0].ok and reports[0].authenticated is False
    new_items(node, customer.record.id, 2)
    reports = verify_store(node.store, node.trusted_keys(), SITE, authority=node.authority)
    assert reports[0].ok and reports[0].authenticated is True
    assert node.authority.anchor(SITE) is not None


def test_a_head_row_with_a_forged_mac_is_refused(populated: Container) -> None:
    execute_raw(populated.engine, q(populated, "UPDATE log_heads SET mac = ?"), [bytes(32)])
    with pytest.raises(IntegrityError, match="MAC is not valid"):
        new_customer(populated)
    code, report = verify_cli(populated)
    assert code == 1 and "MAC is not valid" in bad_site(report)["reason"]


def test_init_makes_the_log_key_outside_the_database(tmp_path: Path) -> None:
    """`postex init` writes log-<SITE>.json with mode 0600; its secret is not in the database."""
    result = runner.invoke(app_(), ["init", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "keys" / "log-GBLALA.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = base64.b64decode(json.loads(path.read_text())["key"])
    assert len(secret) == 32
    assert secret not in b"".join(p.read_bytes() for p in tmp_path.glob("postex.db*"))
