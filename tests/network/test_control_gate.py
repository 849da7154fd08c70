"""The gate in front of every control message: freshness both ways, nonces remembered for
the window and forgotten after it."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from postex.network.app.control import ControlGate, ReplayLimiter, own_subject, sign_control
from postex.network.app.signatures import MessageSignature
from postex.network.signing import FileSigner
from tests.factories import ManualClock

SUBJECT = "postex.status.GBLALA"


def _gate(clock: ManualClock, signer: FileSigner) -> ControlGate:
    keys = {"GBLALA": {signer.key_id: signer.public}}
    return ControlGate("status", lambda: keys, own_subject, clock.now)


def _sig(headers: dict[str, str]) -> MessageSignature:
    return MessageSignature(headers["Postex-Key-Id"], base64.b64decode(headers["Postex-Signature"]))


def test_a_message_from_the_future_or_the_past_is_stale_and_a_nonce_is_single_use() -> None:
    """Five minutes either way; the same message twice inside the window is a replay; a
    message on another subject does not verify."""
    clock, signer = ManualClock(), FileSigner(Ed25519PrivateKey.generate())
    gate = _gate(clock, signer)
    body = {"head": 1, "acked": 1}
    for offset in (-301, 301):
        sent = clock.now()
        clock.advance(seconds=-offset)
        data, hdrs = sign_control(signer, "status", "GBLALA", SUBJECT, body, sent)
        assert gate.check(SUBJECT, "GBLALA", data, _sig(hdrs)) is None
        clock.advance(seconds=offset)
    assert gate.refused == {"stale": 2}
    data, hdrs = sign_control(signer, "status", "GBLALA", SUBJECT, body, clock.now())
    assert gate.check("postex.status.GBLGWA", "GBLALA", data, _sig(hdrs)) is None
    assert gate.refused["bad-signature"] == 1
    ok = gate.check(SUBJECT, "GBLALA", data, _sig(hdrs))
    assert ok is not None and ok.body == body and ok.key_id == signer.key_id
    assert gate.check(SUBJECT, "GBLALA", data, _sig(hdrs)) is None
    assert gate.refused["replayed"] == 1
    clock.advance(seconds=700)  # the nonce is forgotten, but the message is stale by now
    assert gate.check(SUBJECT, "GBLALA", data, _sig(hdrs)) is None
    assert gate.refused["stale"] == 3
    data, hdrs = sign_control(signer, "status", "GBLALA", SUBJECT, body, clock.now())
    assert gate.check(SUBJECT, "GBLALA", data, _sig(hdrs)) is not None
    assert len(gate._nonces) == 1  # the first nonce's window is over: forgotten


def test_the_replay_limiter_allows_one_at_a_time_and_one_per_interval() -> None:
    limiter = ReplayLimiter(5.0)
    assert limiter.allow("hub", 0.0)
    assert not limiter.allow("hub", 1.0)  # one in progress
    limiter.done()
    assert not limiter.allow("hub", 4.0)  # within the interval
    assert limiter.allow("hub", 5.5)
    assert limiter.refused == 2
