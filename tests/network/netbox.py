"""Driving a network in a box (`postex network up`) from a test: real processes, real NATS.

`NetBox` runs the CLI as a subprocess for every change of the network (up, cut, reconnect,
stop, start, down), talks HTTP to the nodes, reads each node's SQLite database read-only
for the convergence checks, and keeps a record of every write a node acknowledged (201)
so that the end of a test can check none was lost. The fault helpers (`kill`, `overwrite`,
`restore_from_hub`) are the pieces of "a site destroyed mid-day"; `lead` and `sites` are
an operations lead and the `postex sites` commands (failover, failback) run as that lead.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.factories import item_payload

# Columns each node fills on its own, not from the logs: excluded from the comparison.
# items.updated_at: when this node's projection last touched the row (arrival order).
NODE_LOCAL: dict[str, set[str]] = {"items": {"updated_at"}}
ITEM_TABLES = ("items", "tracking_events", "item_handling", "receptacles")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTEX_")}
    return {**env, **extra}


def postex(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postex", *args], env=_env(**env), capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


def http(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 45, every: float = 0.3) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def payload(country: str) -> dict[str, Any]:
    """A tracked item (mail class U) to ``country``: US leaves from GBLALA, ES from
    GBLGWA, IN from GBBHXA (the packaged network file's routes)."""
    addressee = {
        "US": {"city": "New York", "region": "NY", "postcode": "10001"},
        "ES": {"city": "Madrid", "region": "M", "postcode": "28001"},
        "IN": {"city": "New Delhi", "region": "Delhi", "postcode": "110001"},
    }[country]
    base = item_payload()
    others = {k: v for k, v in base["addressee"].items() if k != "region"}
    base["addressee"] = {**others, **addressee, "country": country}
    return base


@dataclass
class Node:
    site: str
    role: str
    home: str
    db_url: str
    url: str
    nats_url: str
    nats_prefix: str = ""

    @property
    def db_path(self) -> str:
        return self.db_url.removeprefix("sqlite:///")

    def env(self) -> dict[str, str]:
        """What a command run by hand on the node needs: its home and database, and for
        NATS its own link and the network's subject prefix."""
        return {
            "POSTEX_HOME": self.home,
            "POSTEX_DB_URL": self.db_url,
            "POSTEX_NATS_URL": self.nats_url,
            "POSTEX_NATS_PREFIX": self.nats_prefix,
        }


@dataclass
class Acknowledged:
    """A write a node acknowledged (201, or 200 for a change): the log it went to, the
    event type (or its prefix) and the id its body names (an item, receptacle, despatch)."""

    log: str
    event_type: str
    item_id: str


@dataclass
class NetBox:
    directory: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    acknowledged: list[Acknowledged] = field(default_factory=list)

    # --- the network's processes (the CLI, as a newcomer runs it) -----------------------
    def up(self, sites: int) -> None:
        done = postex("network", "up", "--sites", str(sites), "--dir", str(self.directory),
                      "--json", "--no-seed", "--checkpoint-seconds", "2",
                      timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        state = json.loads(done.stdout)
        for n in state["nodes"]:
            self.nodes[n["site"]] = Node(**n, nats_prefix=state["nats_prefix"])

    def cli(self, command: str, *args: str, timeout: float = 120) -> dict[str, Any]:
        done = postex("network", command, *args, "--dir", str(self.directory), "--json",
                      timeout=timeout)  # fmt: skip
        assert done.returncode == 0, f"network {command} {args}: {done.stdout}{done.stderr}"
        doc: dict[str, Any] = json.loads(done.stdout)
        return doc

    def down(self) -> dict[str, Any]:
        return self.cli("down")

    def status(self) -> dict[str, Any]:
        return self.cli("status")

    def cut(self, site: str) -> None:
        """Cut the node's link to NATS (its relay stops): its processes keep serving."""
        self.cli("cut", "--node", site)

    def reconnect(self, site: str) -> None:
        self.cli("reconnect", "--node", site)

    def stop(self, site: str) -> None:
        self.cli("stop", "--node", site)

    def start(self, site: str) -> None:
        self.cli("start", "--node", site, timeout=180)

    @contextmanager
    def cut_off(self, *sites: str) -> Iterator[None]:
        for s in sites:
            self.cut(s)
        try:
            yield
        finally:
            for s in sites:
                self.reconnect(s)

    # --- a site destroyed: kill, ransomware, restore from the hub -----------------------
    def witnessed(self, site: str) -> bool:
        """Whether the hub holds a countersignature for the site's newest checkpoint (a
        restore from the hub needs one)."""
        newest = self.rows(site, "SELECT MAX(seq) FROM checkpoints WHERE site = ?", (site,))
        if newest[0][0] is None:
            return False
        return any(
            self.rows(
                hub, "SELECT 1 FROM witnesses WHERE site = ? AND seq = ?", (site, newest[0][0])
            )
            for hub in self.hubs()
        )

    def kill(self, site: str) -> None:
        """SIGKILL the node's processes at once (no clean shutdown); its link stays."""
        stopped = self.cli("stop", "--node", site, "--kill")["stopped"]
        assert stopped and all(s["how"].startswith("killed") for s in stopped), stopped

    def overwrite(self, site: str) -> None:
        """Ransomware: the node's database file (and its WAL) overwritten with random bytes."""
        db = Path(self.nodes[site].db_path)
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if path.exists():
                path.write_bytes(os.urandom(max(path.stat().st_size, 4096)))

    def restore_from_hub(self, site: str) -> dict[str, Any]:
        """`postex restore --from hub` over NATS (the hub's `hub consume` answers), through
        the node's own link, into the node's home and database."""
        node = self.nodes[site]
        done = postex("restore", "--site", site, "--from", "hub", "--nats", node.nats_url,
                      "--json", timeout=180, **node.env())  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        doc: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return doc

    def rebuild(self, site: str) -> None:
        """Stop the node, `postex rebuild` it (every log merged by recorded time), start it."""
        self.stop(site)
        done = postex("rebuild", timeout=180, **self.nodes[site].env())
        assert done.returncode == 0, done.stdout + done.stderr
        self.start(site)

    def verify(self, site: str) -> tuple[int, dict[str, Any]]:
        node = self.nodes[site]
        args = ["verify", "--json", *(["--hub"] if node.role == "hub" else [])]
        done = postex(*args, timeout=180, **node.env())
        try:
            doc: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        except (ValueError, IndexError):
            doc = {"stdout": done.stdout, "stderr": done.stderr}
        return done.returncode, doc

    # --- credentials (the CLI on the node's own database) -------------------------------
    def customer(self, site: str, name: str) -> str:
        done = postex("customers", "create", "--name", name, "--json", **self.nodes[site].env())
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["api_key"])

    def clerk(self, site: str, role: str = "clerk") -> str:
        """A staff user of ``role`` at ``site`` created by the CLI there; its API token."""
        name = f"{role}.{site.lower()}.{secrets.token_hex(2)}"  # user names are network-wide
        done = postex("users", "create", "--username", name, "--role", role, "--site", site,
                      "--json", **self.nodes[site].env())  # fmt: skip
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["token"])

    def lead(self, site: str) -> str:
        """An operations lead (role ``ops``, no site: network-wide) created by the CLI on
        the node; its API token."""
        name = f"ops.{site.lower()}.{secrets.token_hex(2)}"
        done = postex("users", "create", "--username", name, "--role", "ops", "--json",
                      **self.nodes[site].env())  # fmt: skip
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["token"])

    def sites(self, site: str, token: str, *args: str) -> dict[str, Any]:
        """`postex sites ARGS --json` on the node, as the staff user of ``token`` (given in
        $POSTEX_TOKEN, as an operator does); the one JSON document it prints."""
        done = postex("sites", *args, "--json", POSTEX_TOKEN=token, **self.nodes[site].env())
        assert done.returncode == 0, f"sites {args}: {done.stdout}{done.stderr}"
        doc: dict[str, Any] = json.loads(done.stdout)
        return doc

    # --- HTTP, recording what was acknowledged ------------------------------------------
    def call(self, site: str, method: str, path: str, body: Any = None,
             key: str | None = None) -> tuple[int, Any]:  # fmt: skip
        return http(method, f"{self.nodes[site].url}{path}", body, key)

    def pre_advise(self, site: str, key: str, country: str) -> str:
        status, item = self.call(site, "POST", "/api/v1/items", payload(country), key)
        assert status == 201, (site, status, item)
        self.acknowledged.append(Acknowledged(site, "item.pre_advised", item["id"]))
        return str(item["id"])

    def accept(self, site: str, token: str, item_id: str, wait: float = 45) -> tuple[int, Any]:
        """Scan-accept at ``site``, retried while the site does not know the item yet."""
        path = f"/api/v1/sites/{site}/acceptances"
        deadline = time.monotonic() + wait
        while True:
            status, body = self.call(site, "POST", path, {"item_id": item_id, "weight_g": 850},
                                     token)  # fmt: skip
            unknown = status == 422 and "unknown_item" in json.dumps(body)
            if not unknown or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if status == 201:
            self.acknowledged.append(Acknowledged(site, "item.accepted", item_id))
        return status, body

    def cancel(self, site: str, key: str, item_id: str) -> tuple[int, Any]:
        status, body = self.call(site, "DELETE", f"/api/v1/items/{item_id}", None, key)
        if status in (200, 201, 204):
            self.acknowledged.append(Acknowledged(site, "item.cancelled", item_id))
        return status, body

    def transfer(self, site: str, token: str, to_site: str, item_id: str) -> None:
        body = {"to_site": to_site, "item_ids": [item_id]}
        status, out = self.call(site, "POST", f"/api/v1/sites/{site}/transfers", body, token)
        assert status == 201, (status, out)
        self.acknowledged.append(Acknowledged(site, "item.transferred_out", item_id))

    def receive(self, site: str, token: str, item_id: str, wait: float = 45) -> None:
        """Scan in a transferred item, retried until the site has followed the sending."""
        path = f"/api/v1/sites/{site}/transfers/received"
        wait_for(
            lambda: (r := self.call(site, "POST", path, {"item_ids": [item_id]}, token))[0]
            == 201 and r,
            f"{site} to receive {item_id}", wait,
        )  # fmt: skip
        self.acknowledged.append(Acknowledged(site, "item.transfer_received", item_id))

    def bag(self, site: str, token: str, series: dict[str, str], item_ids: list[str]) -> str:
        """Open a receptacle for ``series`` at ``site`` and put the items in (201/200)."""
        base = f"/api/v1/sites/{site}/receptacles"
        status, bag = self.call(site, "POST", base, series, token)
        assert status == 201, (status, bag)
        status, out = self.call(site, "POST", f"{base}/{bag['id']}/items",
                                {"item_ids": item_ids}, token)  # fmt: skip
        assert status == 200, (status, out)
        for item_id in item_ids:
            self.acknowledged.append(Acknowledged(site, "receptacle.items_added", item_id))
        return str(bag["id"])

    def close(self, site: str, token: str, rid: str) -> tuple[int, Any]:
        """Close the receptacle (S9) with its gross weight: the content and 400 g of bag."""
        base = f"/api/v1/sites/{site}/receptacles/{rid}"
        status, bag = self.call(site, "GET", base, None, token)
        if status != 200:
            return status, bag
        weight = {"gross_weight_g": bag["content_g"] + 400}
        status, closed = self.call(site, "POST", f"{base}/close", weight, token)
        if status == 200:
            self.acknowledged.append(Acknowledged(site, "receptacle.closed", rid))
        return status, closed

    def despatch(self, site: str, token: str, receptacle_ids: list[str], flight: str) -> str:
        """Close the receptacles (S9), compose them into a despatch and close it with its
        flight (the despatch is then ready to hand over); returns the despatch id."""
        base = f"/api/v1/sites/{site}"
        for rid in receptacle_ids:
            status, closed = self.close(site, token, rid)
            assert status == 200, (status, closed)
        status, desp = self.call(site, "POST", f"{base}/despatches",
                                 {"receptacle_ids": receptacle_ids}, token)  # fmt: skip
        assert status == 201, (status, desp)
        transport = {"carrier": flight[:2], "flight": flight,
                     "flight_date": time.strftime("%Y-%m-%d", time.gmtime())}  # fmt: skip
        status, out = self.call(site, "POST", f"{base}/despatches/{desp['id']}/close",
                                transport, token)  # fmt: skip
        assert status == 200, (status, out)
        self.acknowledged.append(Acknowledged(site, "despatch.", desp["id"]))
        return str(desp["id"])

    def integrity(self, site: str) -> dict[str, Any]:
        status, doc = self.call(site, "GET", "/api/v1/integrity")
        assert status == 200, (status, doc)
        return dict(doc)

    # --- reading a node's database (read-only) ------------------------------------------
    def rows(self, site: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        uri = f"file:{self.nodes[site].db_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            return [tuple(r) for r in db.execute(sql, args).fetchall()]

    def heads(self, site: str) -> dict[str, int]:
        """Every log this node holds (its own and its copies) and the seq it has of each."""
        return dict(self.rows(site, "SELECT site, MAX(seq) FROM events GROUP BY site"))  # type: ignore[arg-type]

    def converged(self) -> bool:
        """Every node holds every node's log up to that node's own head."""
        own = {s: self.heads(s).get(s, 0) for s in self.nodes}
        return all(
            self.heads(s).get(log, 0) == head
            for s in self.nodes if self.nodes[s].role == "site"
            for log, head in own.items()
        ) and all(self.heads(hub).get(log, 0) == head for hub in self.hubs()
                  for log, head in own.items())  # fmt: skip

    def hubs(self) -> list[str]:
        return [s for s, n in self.nodes.items() if n.role == "hub"]

    def dump(self, site: str, table: str) -> list[tuple[Any, ...]]:
        """The table's rows, canonical (sorted, node-local columns left out)."""
        cols = [r[1] for r in self.rows(site, f"PRAGMA table_info({table})")]
        keep = [c for c in cols if c not in NODE_LOCAL.get(table, set())]
        return sorted(self.rows(site, f"SELECT {', '.join(keep)} FROM {table}"), key=repr)

    def item_state(self, site: str, item_id: str) -> str | None:
        found = self.rows(site, "SELECT state FROM items WHERE id = ?", (item_id,))
        return str(found[0][0]) if found else None

    def logged(self, site: str, ack: Acknowledged) -> bool:
        """Whether ``site``'s copy of ``ack.log`` holds an event of its type for its item."""
        like = f"%{ack.item_id}%"
        types = self.rows(
            site, "SELECT type FROM events WHERE site = ? AND CAST(body AS TEXT) LIKE ?",
            (ack.log, like),
        )  # fmt: skip
        return any(t[0].startswith(ack.event_type) for t in types)
