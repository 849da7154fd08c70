"""Faults in a network of three sites and a hub: real processes, real NATS (issue #14).

One network (`postex network up --sites 3`) is shared by the tests of this module, which
run in file order, each leaving it converged for the next: pre-advice anywhere and a
transfer; site A cut off; the hub stopped; the cancel/accept race; site A destroyed and
failed over to B; A restored from the hub; A failed back; and the convergence checks over
everything that happened.

*Cutting a link.* Every node reaches NATS through a link of its own — a TCP relay
(postex.network.link) on a loopback port of the node's, started by `network up`. `postex
network cut --node GBLALA` stops A's relay: A's NATS connections close and reconnecting
is refused, exactly what A sees when its line goes down, while A's `serve` keeps running
and serving HTTP with its own database; the other nodes and NATS are untouched. `network
reconnect` starts the relay on the same port and A's clients reconnect by themselves.
Stopping the hub stops its processes (`network stop --node HUB`) and starts them again
(`network start`): same ports, same database.

A = GBLALA, B = GBLGWA, C = GBBHXA; routes (the packaged network file): US items leave
from A, ES items from B, IN items from C.

*A site destroyed mid-day.* A holds accepted items (two in its open US bag, one in a
closed bag, one loose) when it is killed (SIGKILL) and its database overwritten with
random bytes. Two operations leads fail A over to B **at the hub** with the CLI (`postex
sites failover --from A --to B`, then `postex sites failover confirm ID` by the other):
the hub holds every log and stays up whichever site is lost, which is where
docs/operations.md runs it; a confirmation in a hub's log also has the survivor queue the
customers' `item.site_changed` webhooks (docs/log-format.md, rules 4 and 5), which the
test checks happen once in the network. B then opens a bag for A's US series, bags and
despatches the moved items under its own S9/S8 ids; A's bags show `abandoned` everywhere.
The test prints (not asserts) the time from the confirmation to B's first bagging of a
moved item (`-s` shows it). A, restored from the hub and started, learns the failover and
refuses to scan, bag or send what moved (the problem names B) or to close or despatch its
abandoned bags. Two other leads fail A back over HTTP at B (`POST /api/v1/failbacks`, any
node will do): A's US routes leave from A again, what moved stays at B.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from postex.kernel.errors import ConfigurationError
from postex.network.box import alive, nats_server, read_state, ready
from tests.conftest import IN_CI
from tests.network.netbox import ITEM_TABLES, Acknowledged, NetBox, wait_for

pytestmark = [pytest.mark.nats, pytest.mark.slow]

A, B, C, HUB = "GBLALA", "GBLGWA", "GBBHXA", "HUB"
SITES = (A, B, C)
BAGS = {
    "US": {"destination": "USJFKA", "category": "A", "subclass": "UN"},
    "ES": {"destination": "ESMADB", "category": "A", "subclass": "UN"},
    "IN": {"destination": "INDELA", "category": "A", "subclass": "UN"},
}
FAILOVER_TABLES = ("site_failovers", "active_failovers", "failover_moves", "abandoned_receptacles")
REFUSED = "item.cancellation_refused"
DESPATCHED = "despatched"  # an item in a receptacle of a closed despatch


@dataclass
class World:
    """The shared network and what the tests did in it, by name."""

    box: NetBox
    keys: dict[str, str] = field(default_factory=dict)  # a customer's API key per node
    clerks: dict[str, str] = field(default_factory=dict)  # a clerk's token per site
    items: dict[str, str] = field(default_factory=dict)  # item ids by the test's names
    bags: dict[str, list[str]] = field(default_factory=dict)  # receptacle ids per site
    despatches: dict[str, str] = field(default_factory=dict)  # a despatch id per site
    heads: dict[str, int] = field(default_factory=dict)  # a log's head before an attack
    failover: str = ""  # the failover request's id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    try:
        nats_server()
    except ConfigurationError:
        if IN_CI:
            pytest.fail("nats-server is required in CI (the network box starts its own)")
        pytest.skip("no nats-server on this machine (apt install nats-server)")
    box = NetBox(tmp_path_factory.mktemp("multisite") / "box")
    try:
        box.up(3)
        w = World(box)
        w.keys = {HUB: box.customer(HUB, "Hub Customer Ltd"), A: box.customer(A, "A Ltd")}
        w.clerks = {s: box.clerk(s) for s in SITES}
        w.clerks.update({f"{s} supervisor": box.clerk(s, "supervisor") for s in SITES})
        yield w
    finally:
        state = read_state(box.directory)
        if state is not None:
            pids = [p.pid for p in state.processes]
            box.down()
            assert not [pid for pid in pids if alive(pid)], "processes left running"
            assert not list((box.directory / "run").glob("*.pid"))


def _everywhere_known(box: NetBox, *item_ids: str) -> bool:
    return all(box.item_state(s, i) is not None for s in SITES for i in item_ids)


def _converged(box: NetBox, what: str, timeout: float = 60) -> None:
    wait_for(box.converged, what, timeout)


CUT_TEXT = re.compile(r"no news from the rest of the network since ([^ ]+) \(UTC\)")


def _cut_off_since(box: NetBox, site: str) -> str | None:
    """The time the site's public /status page says it has been cut off since (None: in
    touch)."""
    with urllib.request.urlopen(f"{box.nodes[site].url}/status", timeout=10) as r:
        found = CUT_TEXT.search(r.read().decode())
    return found.group(1) if found else None


def _one_refusal(box: NetBox, race: str) -> None:
    """One item.cancellation_refused delivery in the network: queued by A (its log holds
    the cancel), for the race's item."""
    refused = {
        node: box.rows(
            node, "SELECT item_id FROM webhook_deliveries WHERE event_type = ?", (REFUSED,)
        )
        for node in box.nodes
    }
    assert refused == {node: [(race,)] if node == A else [] for node in box.nodes}


def test_pre_advice_at_the_hub_and_at_a_site_accepted_elsewhere_and_a_transfer(
    world: World,
) -> None:
    """Pre-advice at the hub and at A reaches every site; B and C accept it; an IN item
    accepted at B leaves from C, so B transfers it to C, C scans it in and bags it."""
    box, keys, clerks, items = world.box, world.keys, world.clerks, world.items
    status, hook = box.call(A, "POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"},
                            keys[A])  # fmt: skip
    assert status == 201, hook
    for name, (node, country) in {
        "hub_es": (HUB, "ES"), "hub_in": (HUB, "IN"), "a_in": (A, "IN"),
        # for the cut: A keeps accepting these; B and C carry on with those
        "hub_us": (HUB, "US"), "a_us": (A, "US"), "hub_es2": (HUB, "ES"), "a_in2": (A, "IN"),
        "race": (A, "IN"),  # cancelled at A while C accepts it
    }.items():  # fmt: skip
        items[name] = box.pre_advise(node, keys[node], country)
    wait_for(lambda: _everywhere_known(box, *items.values()), "pre-advice at every site")
    assert box.accept(B, clerks[B], items["hub_es"])[0] == 201
    assert box.accept(C, clerks[C], items["a_in"])[0] == 201
    assert box.accept(B, clerks[B], items["hub_in"])[0] == 201
    status, refused = box.call(B, "POST", f"/api/v1/sites/{B}/receptacles", BAGS["IN"],
                               clerks[B])  # fmt: skip
    assert status == 422 and "transfer_to_site" in json.dumps(refused), refused  # routing
    box.bag(B, clerks[B], BAGS["ES"], [items["hub_es"]])
    box.transfer(B, clerks[B], C, items["hub_in"])
    box.receive(C, clerks[C], items["hub_in"])
    world.bags[C] = [box.bag(C, clerks[C], BAGS["IN"], [items["a_in"], items["hub_in"]])]
    _converged(box, "every node to follow every log")
    for node in (*SITES, HUB):
        status, events = box.call(node, "GET", f"/api/v1/tracking/{items['hub_in']}")
        codes = [e["code"] for e in events["events"]] if status == 200 else []
        assert status == 200 and {"EMK", "EMB"} <= set(codes), (node, status, events)
    where = {s: box.rows(s, "SELECT site, transfer_to FROM item_handling WHERE item_id = ?",
                         (items["hub_in"],)) for s in SITES}  # fmt: skip
    assert where == {s: [(C, None)] for s in SITES}


def test_a_site_cut_off_keeps_accepting_what_it_knew_and_catches_up(world: World) -> None:
    """A's link cut: A accepts and bags items pre-advised before the cut, not those after
    it; B and C carry on; A's /status says since when it is cut off. Meanwhile the cancel
    at A and the acceptance at C of the same item race (neither sees the other). The link
    back: every node converges and A is in touch again."""
    box, keys, clerks, items = world.box, world.keys, world.clerks, world.items
    started = datetime.now(UTC)
    box.cut(A)
    try:
        nodes = {n["site"]: n for n in box.status()["nodes"]}
        # A's server runs and answers; /readyz says degraded (200: A keeps working) while
        # NATS does not answer it
        assert nodes[A]["link"] == "cut" and nodes[A]["readyz"] == 200
        assert nodes[A]["readiness"] == "degraded" and nodes[B]["readiness"] == "ready"
        assert nodes[B]["link"] == "up"
        items["after_cut"] = box.pre_advise(HUB, keys[HUB], "ES")
        # A keeps working with what it knew
        assert box.accept(A, clerks[A], items["hub_us"])[0] == 201
        assert box.accept(A, clerks[A], items["a_us"])[0] == 201
        world.bags[A] = [box.bag(A, clerks[A], BAGS["US"], [items["hub_us"], items["a_us"]])]
        # the race: a cancel at A, an acceptance at C, neither seeing the other
        status, cancelled = box.cancel(A, keys[A], items["race"])
        assert status in (200, 204), cancelled
        assert box.accept(C, clerks[C], items["race"])[0] == 201
        # B and C carry on, with what was pre-advised after the cut too
        assert box.accept(B, clerks[B], items["after_cut"])[0] == 201
        assert box.accept(B, clerks[B], items["hub_es2"])[0] == 201
        box.bag(B, clerks[B], BAGS["ES"], [items["hub_es2"], items["after_cut"]])
        assert box.accept(C, clerks[C], items["a_in2"])[0] == 201
        world.bags[C].append(box.bag(C, clerks[C], BAGS["IN"], [items["a_in2"], items["race"]]))
        # A never heard of what was pre-advised after the cut
        status, unknown = box.accept(A, clerks[A], items["after_cut"], wait=0)
        assert status == 422 and "unknown_item" in json.dumps(unknown), (status, unknown)
        assert box.item_state(A, items["race"]) == "cancelled"  # A saw only its cancel
        since = wait_for(lambda: _cut_off_since(box, A), "A's /status to say it is cut off",
                         timeout=60, every=1)  # fmt: skip
        last_news = datetime.fromisoformat(since.replace("Z", "+00:00"))
        assert abs((last_news - started).total_seconds()) < 10  # just before the cut
        assert _cut_off_since(box, B) is None
    finally:
        box.reconnect(A)
    _converged(box, "A to catch up and the others to learn A's day", timeout=90)
    wait_for(lambda: _cut_off_since(box, A) is None, "A back in touch")
    assert box.item_state(A, items["after_cut"]) == "in_receptacle"  # bagged at B


def test_the_hub_stopped_sites_keep_working_and_everyone_catches_up(world: World) -> None:
    """With the hub's processes stopped, pre-advice at A is accepted at B (the sites follow
    each other's streams directly); the hub, started again, catches up with every log, and
    the sites with the hub's."""
    box, keys, clerks, items = world.box, world.keys, world.clerks, world.items
    box.stop(HUB)
    try:
        assert ready(box.nodes[HUB].url) is None  # nothing answers at the hub
        items["hub_down"] = box.pre_advise(A, keys[A], "ES")
        assert box.accept(B, clerks[B], items["hub_down"])[0] == 201
        items["hub_down_c"] = box.pre_advise(A, keys[A], "IN")
        assert box.accept(C, clerks[C], items["hub_down_c"])[0] == 201
        world.bags[C].append(box.bag(C, clerks[C], BAGS["IN"], [items["hub_down_c"]]))
        # C closes its IN bags and despatches them on its flight
        box.despatch(C, clerks[f"{C} supervisor"], world.bags[C], "AI0162")
        assert box.item_state(HUB, items["hub_down"]) is None  # the hub knows nothing yet
    finally:
        box.start(HUB)
    items["hub_back"] = box.pre_advise(HUB, keys[HUB], "ES")
    _converged(box, "the hub and the sites to catch up")
    for name, state in (("hub_down", "accepted"), ("hub_down_c", DESPATCHED),
                        ("hub_back", "pre_advised")):  # fmt: skip
        assert {box.item_state(s, items[name]) for s in SITES} == {state}, name
    assert box.item_state(HUB, items["hub_down"]) == "accepted"


def test_the_cancel_accept_race_settled_the_same_on_every_node(world: World) -> None:
    """The scan wins everywhere: the item accepted (and bagged at C), no CAN row, one
    cancellation_refused delivery in the network (queued by A, whose log holds the cancel)."""
    box, race = world.box, world.items["race"]
    for node in (*SITES, HUB):
        assert box.item_state(node, race) == DESPATCHED, node  # accepted, bagged at C
        assert box.rows(node, "SELECT code FROM tracking_events WHERE item_id = ? AND "
                        "code = 'CAN'", (race,)) == [], node  # fmt: skip
    _one_refusal(box, race)


def _refused(status: int, body: Any, *words: str) -> bool:
    """A 4xx problem whose text names every word (a rule, a site)."""
    text = json.dumps(body)
    return 400 <= status < 500 and all(w in text for w in words)


def _opens(box: NetBox, site: str, token: str, series: str) -> tuple[int, Any]:
    return box.call(site, "POST", f"/api/v1/sites/{site}/receptacles", BAGS[series], token)


def _moved_to(box: NetBox, node: str) -> dict[str, str]:
    return dict(box.rows(node, "SELECT item_id, to_site FROM failover_moves"))  # type: ignore[arg-type]


def test_a_destroyed_site_fails_over_to_b_which_despatches_its_items(world: World) -> None:
    """Mid-day A holds accepted items (two in its open US bag, one in a closed bag, one
    loose). A killed (SIGKILL), its database overwritten with random bytes; two operations
    leads fail A over to B at the hub (the CLI, as docs/operations.md says): A's items move
    to B, A's bags are abandoned on every node, B opens a bag for A's US series and
    despatches the moved items under its own S9/S8 ids; each moved item's customer has one
    item.site_changed webhook queued in the network (by B: the hub confirmed)."""
    box, keys, clerks, items = world.box, world.keys, world.clerks, world.items
    status, hook = box.call(HUB, "POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h"},
                            keys[HUB])  # fmt: skip
    assert status == 201, hook
    items["a_loose"] = box.pre_advise(A, keys[A], "US")
    items["a_closed"] = box.pre_advise(HUB, keys[HUB], "US")
    items["us_later"] = box.pre_advise(HUB, keys[HUB], "US")  # pre-advised, never at A
    wait_for(lambda: _everywhere_known(box, items["a_closed"], items["us_later"]),
             "the US pre-advice at every site")  # fmt: skip
    assert box.accept(A, clerks[A], items["a_loose"])[0] == 201
    assert box.accept(A, clerks[A], items["a_closed"])[0] == 201
    closed_bag = box.bag(A, clerks[A], BAGS["US"], [items["a_closed"]])
    assert box.close(A, clerks[f"{A} supervisor"], closed_bag)[0] == 200
    world.bags[A].append(closed_bag)
    status, refused = _opens(box, B, clerks[B], "US")
    assert _refused(status, refused, "transfer_to_site"), (status, refused)  # US: from A
    moving = [items[n] for n in ("hub_us", "a_us", "a_loose", "a_closed")]
    _converged(box, "the hub to hold A's whole log before the attack")
    wait_for(lambda: box.witnessed(A), "the hub to countersign A's newest checkpoint")
    seen = box.heads(A)[A]
    box.kill(A)
    box.overwrite(A)
    # A's worker may have written more (webhook attempts) before it died: the restore
    # brings back what the hub holds, at least everything up to the convergence above.
    world.heads[A] = box.heads(HUB)[A]
    assert world.heads[A] >= seen

    # Two operations leads at the hub: it holds every log and stays up whatever site is
    # lost; the events it writes reach every site by fan-out.
    one, two = box.lead(HUB), box.lead(HUB)
    asked = box.sites(HUB, one, "failover", "--from", A, "--to", B,
                      "--reason", "ransomware at Heathrow")  # fmt: skip
    assert asked["status"] == "pending" and asked["items_moved"] == 0, asked
    done = box.sites(HUB, two, "failover", "confirm", asked["id"])
    confirmed_at = time.monotonic()
    assert done["status"] == "active" and done["to_site"] == B, done
    assert done["items_moved"] == len(moving) and done["receptacles_abandoned"] == 2, done
    world.failover = str(asked["id"])

    # B: A's US series is B's now; the moved items go into a bag of B's own.
    opened = wait_for(lambda: (r := _opens(box, B, clerks[B], "US"))[0] == 201 and r[1],
                      "B to route A's US series from B", timeout=60, every=0.2)  # fmt: skip
    path = f"/api/v1/sites/{B}/receptacles/{opened['id']}/items"
    status, out = wait_for(
        lambda: (r := box.call(B, "POST", path, {"item_ids": moving[:1]}, clerks[B]))[0] == 200
        and r, "B to bag a moved item", timeout=60, every=0.2,
    )  # fmt: skip
    print(f"failover confirmed -> survivor bagged a moved item: "
          f"{time.monotonic() - confirmed_at:.2f} s")  # fmt: skip
    status, out = box.call(B, "POST", path, {"item_ids": moving[1:]}, clerks[B])
    assert status == 200, (status, out)
    for item_id in moving:
        box.acknowledged.append(Acknowledged(B, "receptacle.items_added", item_id))
    assert box.accept(B, clerks[B], items["us_later"])[0] == 201  # routed from B now
    later = box.bag(B, clerks[B], BAGS["US"], [items["us_later"]])
    world.bags[B] = [str(opened["id"]), later]
    world.despatches[B] = box.despatch(B, clerks[f"{B} supervisor"], world.bags[B], "BA0117")
    despatches = box.rows(B, "SELECT id, site FROM despatches WHERE id = ?",
                          (world.despatches[B],))  # fmt: skip
    assert despatches == [(world.despatches[B], B)] and world.despatches[B].startswith(B)
    for rid in world.bags[B]:  # B's own S9 ids, in B's own S8 despatch
        (s9, site, despatch), *_ = box.rows(
            B, "SELECT s9, site, despatch_id FROM receptacles WHERE id = ?", (rid,)
        )
        assert s9.startswith(B) and (site, despatch) == (B, world.despatches[B]), rid

    # Every surviving node agrees: moved to B, despatched there, A's bags abandoned.
    def everywhere() -> bool:
        return all(
            _moved_to(box, n) == dict.fromkeys(moving, B)
            and {box.item_state(n, i) for i in [*moving, items["us_later"]]} == {DESPATCHED}
            and box.rows(
                n, "SELECT DISTINCT state FROM receptacles WHERE id IN (?, ?)", tuple(world.bags[A])
            )
            == [("abandoned",)]
            for n in (B, C, HUB)
        )

    wait_for(everywhere, "B, C and the hub to agree on the failover", timeout=60)
    for n in (B, C, HUB):
        handled = box.rows(n, "SELECT DISTINCT site FROM item_handling WHERE item_id IN "
                           "(?, ?, ?, ?)", tuple(moving))  # fmt: skip
        assert handled == [(B,)], n
        assert box.rows(n, "SELECT from_site, to_site FROM active_failovers") == [(A, B)], n
    # one item.site_changed per moved item whose customer has a webhook (both do), by B
    changed = {
        n: sorted(r[0] for r in box.rows(
            n, "SELECT item_id FROM webhook_deliveries WHERE event_type = 'item.site_changed'"))
        for n in (B, C, HUB)
    }  # fmt: skip
    assert changed == {B: sorted(moving), C: [], HUB: []}, changed


def test_the_destroyed_site_restored_from_the_hub_refuses_what_moved(world: World) -> None:
    """A restored from the hub's copy over NATS and started: it learns the failover and
    converges with no rebuild. A scan, bag or transfer there of a moved item is refused
    (4xx naming B, which handles it); its abandoned bag cannot be closed or despatched;
    its routes still leave from B."""
    box, clerks, items = world.box, world.clerks, world.items
    restored = box.restore_from_hub(A)  # exit 0 asserted there
    assert restored["site"] == A, restored
    assert box.heads(A)[A] == world.heads[A] + 1  # the hub's copy, the restore audited
    box.start(A)
    _converged(box, "A to follow the others again after its restore", timeout=90)
    # The restore rebuilt A's tables from A's log alone; the other logs then came back by
    # replay, after A's own changes to their items (an acceptance at A of an item
    # pre-advised at the hub). Those changes waited for the versions they saw
    # (docs/log-format.md, "Item versions"), so A converges with no rebuild.
    assert box.verify(A)[0] == 0
    for name, item_id in items.items():  # what A had, and what it learnt from the others
        assert box.item_state(A, item_id) == box.item_state(B, item_id) is not None, name
    assert box.rows(A, "SELECT from_site, to_site FROM active_failovers") == [(A, B)]
    moved = items["a_loose"]
    status, body = box.accept(A, clerks[A], moved, wait=0)
    assert _refused(status, body, B), (status, body)
    status, body = box.call(A, "POST", f"/api/v1/sites/{A}/transfers",
                            {"to_site": C, "item_ids": [moved]}, clerks[A])  # fmt: skip
    assert _refused(status, body, B), (status, body)
    open_bag, closed_bag = world.bags[A]
    status, body = box.call(A, "POST", f"/api/v1/sites/{A}/receptacles/{open_bag}/items",
                            {"item_ids": [moved]}, clerks[A])  # fmt: skip
    assert _refused(status, body, "receptacle_abandoned"), (status, body)
    status, body = box.close(A, clerks[f"{A} supervisor"], open_bag)
    assert _refused(status, body, "receptacle_abandoned"), (status, body)
    compose = {"receptacle_ids": [closed_bag]}
    status, body = box.call(A, "POST", f"/api/v1/sites/{A}/despatches", compose,
                            clerks[f"{A} supervisor"])  # fmt: skip
    assert 400 <= status < 500 and "abandon" in json.dumps(body), (status, body)
    status, body = _opens(box, A, clerks[A], "US")
    assert _refused(status, body, "transfer_to_site", B), (status, body)  # routed from B


def test_failback_sends_a_routes_from_a_again_moved_items_stay_at_b(world: World) -> None:
    """Two operations leads at B end the failover over HTTP: A opens US bags again and B
    no longer does; what moved stays at B (despatched there); A's bags stay abandoned. A,
    rebuilt from all its logs, still agrees with every node (the next test)."""
    box, keys, clerks, items = world.box, world.keys, world.clerks, world.items
    one, two = box.lead(B), box.lead(B)
    ask = {"site": A, "reason": "Heathrow restored and verified"}
    status, asked = box.call(B, "POST", "/api/v1/failbacks", ask, one)
    assert status == 201, (status, asked)
    status, same = box.call(B, "POST", f"/api/v1/failbacks/{asked['id']}/confirm", {}, one)
    assert _refused(status, same, "two_person"), (status, same)
    status, done = box.call(B, "POST", f"/api/v1/failbacks/{asked['id']}/confirm", {}, two)
    assert status == 200, (status, done)
    wait_for(lambda: all(box.rows(n, "SELECT * FROM active_failovers") == [] for n in box.nodes),
             "every node to end the failover")  # fmt: skip
    home = wait_for(lambda: (r := _opens(box, A, clerks[A], "US"))[0] == 201 and r[1],
                    "A to route its US series again")  # fmt: skip
    world.bags[A].append(str(home["id"]))
    status, refused = _opens(box, B, clerks[B], "US")
    assert _refused(status, refused, "transfer_to_site"), (status, refused)
    items["after_failback"] = box.pre_advise(A, keys[A], "US")
    assert box.accept(A, clerks[A], items["after_failback"])[0] == 201
    path = f"/api/v1/sites/{A}/receptacles/{home['id']}/items"
    status, out = box.call(A, "POST", path, {"item_ids": [items["after_failback"]]}, clerks[A])
    assert status == 200, (status, out)
    box.acknowledged.append(Acknowledged(A, "receptacle.items_added", items["after_failback"]))
    status, body = box.call(A, "POST", path, {"item_ids": [items["a_us"]]}, clerks[A])
    assert _refused(status, body, f"handled at {B}"), (status, body)  # moved: stays at B
    _converged(box, "every node to learn the failback")
    for n in box.nodes:
        ended = box.rows(n, "SELECT kind, ended_at IS NOT NULL FROM site_failovers "
                         "ORDER BY requested_at")  # fmt: skip
        assert ended == [("failover", 1), ("failback", 0)], n
        assert box.rows(n, "SELECT DISTINCT site FROM item_handling WHERE despatch_id = ?",
                        (world.despatches[B],)) == [(B,)], n  # fmt: skip
        assert box.rows(n, "SELECT state FROM receptacles WHERE id IN (?, ?)",
                        tuple(world.bags[A][:2])) == [("abandoned",)] * 2, n  # fmt: skip
    box.rebuild(A)
    _converged(box, "A after its rebuild")


def test_every_node_converges_to_the_same_item_tables(world: World) -> None:
    """The same item and failover tables on every node, `postex verify` exits 0 everywhere
    (`--hub` on the hub), no item despatched twice, an item bagged twice only when A bagged
    it before the failover and B after, every acknowledged write is in every node's logs."""
    box, items = world.box, world.items
    _converged(box, "the final convergence")
    for table in (*ITEM_TABLES, *FAILOVER_TABLES):
        dumps = {node: box.dump(node, table) for node in box.nodes}
        first = dumps[A]
        assert first or table == "active_failovers", table  # none left in force
        for node, rows in dumps.items():
            assert rows == first, f"{table} differs between {A} and {node}"
    for node in box.nodes:
        code, report = box.verify(node)
        assert code == 0, f"verify on {node}: {json.dumps(report)}"  # whole: the why is deep
    despatched = [
        item_id
        for (body,) in box.rows(HUB, "SELECT body FROM events WHERE type LIKE 'despatch.closed.%'")
        for item_id in json.loads(body)["item_ids"]
    ]
    assert len(despatched) == len(set(despatched)) == 10  # C's five, B's five (four moved)
    held = box.rows(HUB, "SELECT item_id FROM item_handling WHERE despatch_id IS NOT NULL")
    assert sorted(despatched) == sorted(r[0] for r in held)
    bagged = Counter(
        (item["item_id"], site)
        for site, body in box.rows(
            HUB, "SELECT site, body FROM events WHERE type LIKE 'receptacle.items_added.%'"
        )
        for item in json.loads(body)["items"]
    )
    assert max(bagged.values()) == 1  # by one log, once
    twice = Counter(item_id for item_id, _ in bagged)
    assert sorted(i for i, n in twice.items() if n > 1) == sorted(
        items[n] for n in ("hub_us", "a_us", "a_closed"))  # fmt: skip
    for node in box.nodes:
        counted = box.rows(node, "SELECT SUM(item_count) FROM receptacles")[0][0]
        in_bags = box.rows(
            node, "SELECT COUNT(*) FROM item_handling WHERE receptacle_id IS NOT NULL"
        )
        assert counted == in_bags[0][0] == len(twice), node
    missing = [(node, ack) for node in box.nodes for ack in box.acknowledged
               if not box.logged(node, ack)]  # fmt: skip
    assert missing == []
    _one_refusal(box, world.items["race"])  # A's restore and rebuild kept it, once
    assert len(box.acknowledged) > 30
