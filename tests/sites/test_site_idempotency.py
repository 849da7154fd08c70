"""Idempotency-Key on the site POSTs: acceptance, opening a receptacle, composing a despatch.

A retry with the key gets the first answer (Idempotent-Replayed) and nothing happens twice;
another body under the key is 409; a failed request frees its key; keys are per user; a
claimed key whose answer never came (a crash) is 409 idempotency_key_in_progress.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.items.app.idempotency import claim, idempotency, run_once, staff_scope
from postex.kernel.errors import ConflictError
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, Staff, letters, staff

API = f"/api/v1/sites/{SITE}"


def _post(client: TestClient, who: Staff, path: str, body: Any, key: str) -> Any:
    return client.post(f"{API}{path}", json=body, headers={**who.headers, "Idempotency-Key": key})


def _receptacles(client: TestClient, who: Staff) -> list[str]:
    body = client.get(f"{API}/receptacles", headers=who.headers).json()
    return [r["id"] for r in body["receptacles"]]


def test_opening_a_receptacle_twice_with_a_key_opens_one(
    node: Container, client: TestClient
) -> None:
    clerk = staff(node, "clerk")
    first = _post(client, clerk, "/receptacles", SERIES, "bag-1")
    again = _post(client, clerk, "/receptacles", SERIES, "bag-1")
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _receptacles(client, clerk) == [first.json()["id"]]
    other = _post(client, clerk, "/receptacles", {**SERIES, "subclass": "UA"}, "bag-1")
    assert (other.status_code, other.json()["rule"]) == (409, "idempotency_key_reused")
    # Without a key every request opens a bag, as before.
    plain = client.post(f"{API}/receptacles", json=SERIES, headers=clerk.headers)
    assert plain.status_code == 201
    assert len(_receptacles(client, clerk)) == 2


def test_keys_are_per_user(node: Container, client: TestClient) -> None:
    ann, bob = staff(node, "clerk", name="ann"), staff(node, "clerk", name="bob")
    a = _post(client, ann, "/receptacles", SERIES, "same-key")
    b = _post(client, bob, "/receptacles", SERIES, "same-key")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]


def test_acceptance_retry_replays_and_a_failed_request_frees_its_key(
    node: Container, client: TestClient
) -> None:
    clerk = staff(node, "clerk")
    item, other = letters(node, 2, 0)
    scan = {"item_id": item.id, "weight_g": item.weight_g}
    first = _post(client, clerk, "/acceptances", scan, "scan-1")
    assert first.status_code == 201, first.text
    again = _post(client, clerk, "/acceptances", scan, "scan-1")
    assert (again.status_code, again.json()) == (201, first.json())  # not 409 "already accepted"
    assert again.headers["Idempotent-Replayed"] == "true"
    # A refused request records nothing: corrected, it may use the same key.
    wrong = {"item_id": other.id, "weight_g": other.weight_g * 3}
    refused = _post(client, clerk, "/acceptances", wrong, "scan-2")
    assert refused.status_code == 422, refused.text
    fixed = {"item_id": other.id, "weight_g": other.weight_g}
    accepted = _post(client, clerk, "/acceptances", fixed, "scan-2")
    assert accepted.status_code == 201, accepted.text
    assert "Idempotent-Replayed" not in accepted.headers
    live = node.rebuilder.projection_digest()  # claims, releases and answers rebuild alike
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
    assert _post(client, clerk, "/acceptances", fixed, "scan-2").json() == accepted.json()


def test_composing_a_despatch_twice_with_a_key_composes_one(
    node: Container, client: TestClient
) -> None:
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    [item] = letters(node, 1, 0)
    accept(node.site_ops, clerk.principal, SITE, [Scan(item.id, item.weight_g)])
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [item.id])
    closed = rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag.id, 1000, last=True)
    body = {"receptacle_ids": [closed.s9]}
    first = _post(client, boss, "/despatches", body, "despatch-1")
    again = _post(client, boss, "/despatches", body, "despatch-1")
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    listed = client.get(f"{API}/despatches", headers=boss.headers).json()["despatches"]
    assert [d["id"] for d in listed] == [first.json()["id"]]


def test_an_interrupted_request_keeps_its_key_in_progress(
    node: Container, client: TestClient
) -> None:
    """A claim without an answer (the process died in between) never runs a second time."""
    clerk = staff(node, "clerk")
    path = f"POST {API}/receptacles".encode()
    body = b'{"category":"A","destination":"USJFKA","subclass":"UN"}'
    idem = idempotency("crashed-1", path, body)
    assert idem is not None
    assert claim(node.ctx, staff_scope(clerk.principal.subject), idem) is None
    r = _post(client, clerk, "/receptacles", SERIES, "crashed-1")
    assert (r.status_code, r.json()["rule"]) == (409, "idempotency_key_in_progress")
    assert _receptacles(client, clerk) == []


def test_racing_retries_open_one_receptacle(node: Container) -> None:
    """Six simultaneous requests with one key: one bag; the others replay it or are told
    the key is in progress."""
    clerk = staff(node, "clerk")
    idem = idempotency("race-1", b"POST /receptacles", b"same")
    scope = staff_scope(clerk.principal.subject)

    def attempt(_: int) -> str:
        try:
            answer = run_once(
                node.ctx,
                scope,
                idem,
                lambda: {"id": rcp.open_receptacle(node.site_ops, clerk.principal, SITE,
                                                   **SERIES).id},
            )  # fmt: skip
        except ConflictError as exc:
            return str(exc.extra["rule"])
        return str(answer.body["id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    opened = rcp.list_receptacles(node.site_ops, clerk.principal, SITE)
    assert len(opened) == 1
    assert set(outcomes) <= {opened[0].id, "idempotency_key_in_progress"}
    assert opened[0].id in outcomes
