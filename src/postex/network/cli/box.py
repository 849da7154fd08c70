"""`postex network up | down | status`: a hub and N sites with NATS on one machine.

What docs/operations.md's network recipe does by hand: each node initialised with its role
and site (recorded in its database) under one network KEK (the hub's ``keys/kek.json``
copied before a site's first init), the signing keys exchanged (every node trusts every
other node's key, the hub's under ``HUB``: fan-out follows them all), then NATS with
JetStream, the hub's consumer and server (which publishes the hub's own log) and every
site's server (which publishes its log, follows the others' and runs its worker) started
on free loopback ports.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from postex.cli.common import JsonOpt, emit_json, err, handle_errors, out

if TYPE_CHECKING:
    from postex.network.box import BoxState, Node, Process

DEFAULT_DIR = "var/network"
DirOpt = Annotated[
    Path,
    typer.Option("--dir", help="Where the nodes, logs, pid files and state file live."),
]


def register(network_app: typer.Typer) -> None:
    network_app.command("up")(up)
    network_app.command("down")(down)
    network_app.command("status")(status)
    network_app.command("cut")(cut)
    network_app.command("reconnect")(reconnect)
    network_app.command("stop")(stop_node)
    network_app.command("start")(start_node)


def _env(
    node: Node, nats_url: str, prefix: str, port: int, checkpoint_seconds: int = 0
) -> dict[str, str]:
    """A node's environment: the network's, none of the caller's POSTEX_* settings (the
    node's site and role are its database's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTEX_")}
    if checkpoint_seconds:
        env["POSTEX_CHECKPOINT_SECONDS"] = str(checkpoint_seconds)
    env.update(POSTEX_HOME=node.home, POSTEX_DB_URL=node.db_url, POSTEX_NATS_URL=nats_url,
               POSTEX_NATS_PREFIX=prefix, POSTEX_HOST="127.0.0.1", POSTEX_PORT=str(port),
               POSTEX_CONFIG=str(Path(node.home) / "postex.toml"),
               POSTEX_WEBHOOK_ALLOW_PRIVATE="true")  # fmt: skip
    return env


def _init_nodes(
    directory: Path, codes: list[str], hub: str, nats_url: str, prefix: str, seed: bool
) -> tuple[list[Node], list[dict[str, str]]]:
    """Initialise the hub and the sites (role and site recorded) and exchange their keys."""
    from postex.bootstrap import build
    from postex.config import load_settings
    from postex.kernel.private import private_dir, private_file
    from postex.network.box import HOST, Node, free_port

    nodes: list[Node] = []
    keys, sign_ins = {}, []
    for code, role in [(hub, "hub"), *((c, "site") for c in codes)]:
        home = directory / code.lower()
        private_dir(home)
        if nodes:  # one network KEK: the hub's, copied before the node's first init
            _share_kek(Path(nodes[0].home), home)
        node = Node(code, role, str(home), f"sqlite:///{home / 'postex.db'}",
                    f"http://{HOST}:{free_port()}", f"nats://{HOST}:{free_port()}")  # fmt: skip
        err.print(f"  initialising {role} {code} in {home}")
        c = build(load_settings(home=str(home), db_url=node.db_url, site=code, role=role,
                                nats_url=nats_url, nats_prefix=prefix), create=True)  # fmt: skip
        try:
            keys[code] = c.signer.public
            # Staff accounts are network-wide names: seeded once, at the first site (the
            # hub learns them from its log; the other sites create their own).
            if seed and code == codes[0]:
                from postex.demo import seed_demo_staff

                sign_ins += [{"node": code, "url": f"{node.url}/console", "username": name,
                              "role": r, "password": pw}
                             for name, r, pw in seed_demo_staff(c.ctx)]  # fmt: skip
        finally:
            c.close()
        nodes.append(node)
    import base64

    def trust(node: Node, name: str) -> None:
        path = private_file(Path(node.home) / "keys" / f"{name}.pub")
        path.write_text(base64.b64encode(keys[name]).decode() + "\n")

    for node in nodes:  # every node trusts every other: the hub and the sites alike
        for other in nodes:
            if other.site != node.site:
                trust(node, other.site)
    return nodes, sign_ins


def _share_kek(first: Path, home: Path) -> None:
    """Copy the first node's ``keys/kek.json`` into ``home`` unless it has one (a node
    initialised earlier keeps its own), so personal data opens at every node."""
    from postex.kernel.private import private_dir, private_file

    source, target = first / "keys" / "kek.json", home / "keys" / "kek.json"
    if target.exists() or not source.is_file():
        return
    private_dir(target.parent)
    private_file(target).write_bytes(source.read_bytes())


def _start_link(state: BoxState, directory: Path, node: Node) -> None:
    """Start the node's link to NATS (a relay on the node's own port): cut it to cut the
    node off the network while its processes keep running."""
    from postex.network.box import link_argv, link_name, log_size, spawn, wait_line

    if not node.nats_url:
        return
    name = link_name(node)
    after = log_size(directory, name)
    proc = spawn(directory, name, link_argv(node.nats_url, state.nats_url), dict(os.environ))
    state.processes.append(proc)
    wait_line(proc, "link up", 30, after)


def _spawn_node(state: BoxState, directory: Path, node: Node) -> Process:
    """Start the node's processes (the hub's consumer first); return its server."""
    from postex.network.box import log_size, spawn, wait_line

    python = [sys.executable, "-m", "postex"]
    port = int(node.url.rsplit(":", 1)[1])
    env = _env(node, node.nats_url or state.nats_url, state.nats_prefix, port,
               state.checkpoint_seconds)  # fmt: skip
    name = node.site.lower()
    if node.role == "hub":
        err.print(f"  starting the hub's consumer ({node.site})")
        after = log_size(directory, f"{name}-consume")
        consume = spawn(directory, f"{name}-consume", [*python, "hub", "consume"], env)
        state.processes.append(consume)
        wait_line(consume, "hub consuming", 60, after)
    err.print(f"  starting {node.role} {node.site} at {node.url}")
    serve = spawn(directory, f"{name}-serve", [*python, "serve"], env)
    state.processes.append(serve)
    return serve


def _start(state: BoxState, directory: Path) -> None:
    from postex.network.box import wait_ready

    for node in state.nodes:
        _start_link(state, directory, node)
    started = [(node, _spawn_node(state, directory, node)) for node in state.nodes]
    for node, proc in started:
        wait_ready(proc, node.url, 90)
        err.print(f"  [green]ready[/green] {node.role} {node.site} ({node.url}/readyz)")


@handle_errors
def up(
    sites: Annotated[int, typer.Option("--sites", min=1, help="How many sites (1-6).")] = 3,
    directory: DirOpt = Path(DEFAULT_DIR),
    seed: Annotated[
        bool, typer.Option("--seed/--no-seed", help="Create the demo staff sign-ins on every node.")
    ] = True,
    checkpoint_seconds: Annotated[
        int,
        typer.Option(
            "--checkpoint-seconds",
            min=0,
            help="Sign a checkpoint every N seconds on every node (0: the nodes' "
            "own setting, 60 by default).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Start NATS, a hub and N sites on this machine's loopback, keys exchanged; print every
    address and return once all answer /readyz. Stop them with `postex network down`.

    The sites are the network file's first N (GBLALA, GBLGWA, GBBHXA, ...); the hub is its
    gateway HUB. Nodes keep their databases in the directory: `up` again resumes them.

    Example: postex network up --sites 3 --dir var/network
    """
    from postex.kernel.errors import ConfigurationError, ValidationError
    from postex.kernel.network import load_network
    from postex.kernel.private import private_dir
    from postex.network.box import (
        HOST,
        BoxState,
        free_port,
        nats_server,
        read_state,
        running,
        spawn,
        stop,
        wait_port,
        write_state,
    )

    network = load_network()
    codes = [s.code for s in network.sites]
    if sites > len(codes):
        raise ValidationError.single("sites", "range", sites, f"1…{len(codes)} (the network file)")
    hub = next((g.code for g in network.gateways), "HUB")
    directory = directory.absolute()
    private_dir(directory)
    previous = read_state(directory)
    if previous is not None and any(running(p) for p in previous.processes):
        raise ConfigurationError(
            f"a network is already up in {directory}: `postex network status --dir {directory}`"
            f" shows it, `postex network down --dir {directory}` stops it"
        )
    binary = nats_server()
    prefix = previous.nats_prefix if previous else f"box{secrets.token_hex(3)}"
    nats_port = free_port()
    nats_url = f"nats://{HOST}:{nats_port}"
    state = BoxState(str(directory), nats_url, prefix,
                     started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                     checkpoint_seconds=checkpoint_seconds)  # fmt: skip
    err.print(f"starting a network in {directory}: NATS, hub {hub}, sites {codes[:sites]}")
    try:
        private_dir(directory / "nats")
        argv = [binary, "-a", HOST, "-p", str(nats_port), "-js", "-sd", str(directory / "nats")]
        nats = spawn(directory, "nats", argv, dict(os.environ))
        state.processes.append(nats)
        write_state(directory, state)
        wait_port(nats, nats_port, 30)
        err.print(f"  NATS with JetStream at {nats_url}")
        state.nodes, state.sign_ins = _init_nodes(
            directory, codes[:sites], hub, nats_url, prefix, seed
        )
        write_state(directory, state)
        _start(state, directory)
    except BaseException:
        err.print("[red]start failed[/red]: stopping what was started")
        stop(reversed(state.processes), directory)
        write_state(directory, state)
        raise
    path = write_state(directory, state)
    if as_json:
        emit_json({"ok": True, "state_file": str(path), **state.to_json()})
        return
    _print_state(state, path)


def _print_state(state: BoxState, path: Path) -> None:
    out.print(f"\n[bold]NATS[/bold]      {state.nats_url}  (subject prefix {state.nats_prefix})")
    for node in state.nodes:
        label = "hub" if node.role == "hub" else "site"
        out.print(f"[bold]{label:<5}[/bold] {node.site:<7} {node.url}  console {node.url}/console")
        out.print(f"              database {node.db_url}", soft_wrap=True)
    if state.sign_ins:
        out.print(
            "demo sign-ins, this machine only, at the first site and the hub (all but "
            "the clerk set up TOTP first):"
        )
        for s in state.sign_ins:
            out.print(f"  {s['node']:<7} {s['role']:<10} {s['username']:<16} {s['password']}")
    out.print(
        "each node reaches NATS through a link of its own: `postex network cut --node CODE` "
        "cuts it off, `postex network reconnect --node CODE` brings it back"
    )
    out.print(f"logs in {Path(state.directory) / 'logs'}; state in {path}")
    out.print(f"stop it: postex network down --dir {state.directory}")


@handle_errors
def down(directory: DirOpt = Path(DEFAULT_DIR), as_json: JsonOpt = False) -> None:
    """Stop every process `postex network up` started (SIGTERM, then SIGKILL after 10 s)
    and remove their pid files. The nodes' databases stay for the next `up`.

    Example: postex network down --dir var/network
    """
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import read_state, stop, write_state

    directory = directory.absolute()
    state = read_state(directory)
    if state is None:
        raise ConfigurationError(f"no network state file in {directory}: nothing to stop")

    def rank(p: Process) -> int:  # the nodes, then their links, then NATS
        return 2 if p.name == "nats" else 1 if p.name.endswith("-link") else 0

    nodes_first = sorted(state.processes, key=rank)
    ended = stop(nodes_first, directory, said=lambda line: err.print(f"  {line}"))
    state.processes = []
    write_state(directory, state)
    if as_json:
        emit_json({"ok": True, "stopped": [{"name": p.name, "pid": p.pid, "how": how}
                                           for p, how in ended]})  # fmt: skip
        return
    for p, how in ended:
        out.print(f"{p.name:<16} pid {p.pid:<8} {how}")


@handle_errors
def status(directory: DirOpt = Path(DEFAULT_DIR), as_json: JsonOpt = False) -> None:
    """Show what `postex network up` started: each process (running or not) and each
    node's address with its /readyz answer.

    Example: postex network status --dir var/network --json
    """
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import link_name, read_state, readiness, running

    directory = directory.absolute()
    state = read_state(directory)
    if state is None:
        raise ConfigurationError(f"no network state file in {directory}: `postex network up`")
    procs = [{"name": p.name, "pid": p.pid, "running": running(p), "log": p.log}
             for p in state.processes]  # fmt: skip
    linked = {p.name for p in state.processes if running(p)}
    answers = {n.site: readiness(n.url) for n in state.nodes}
    nodes = [{"site": n.site, "role": n.role, "url": n.url, "db_url": n.db_url,
              "nats_url": n.nats_url or state.nats_url, "readyz": answers[n.site][0],
              "readiness": answers[n.site][1],
              "link": None if not n.nats_url else "up" if link_name(n) in linked else "cut"}
             for n in state.nodes]  # fmt: skip
    up_now = bool(procs) and all(p["running"] for p in procs)
    if as_json:
        emit_json({"ok": True, "up": up_now, "nats_url": state.nats_url,
                   "processes": procs, "nodes": nodes})  # fmt: skip
        return
    out.print(f"network in {directory}: {'up' if up_now else 'not (fully) running'}")
    out.print(f"NATS {state.nats_url}")
    for p in procs:
        out.print(f"  {p['name']:<16} pid {p['pid']:<8} {'running' if p['running'] else 'stopped'}")
    for n in nodes:
        link = f"  link {n['link']}" if n["link"] else ""
        said = f" {n['readiness']}" if n["readiness"] else ""
        out.print(f"  {n['role']:<4} {n['site']:<7} {n['url']}  readyz {n['readyz'] or '-'}"
                  f"{said}{link}")  # fmt: skip


NodeOpt = Annotated[str, typer.Option("--node", help="The node's code (HUB, GBLALA, ...).")]


def _loaded(directory: Path) -> BoxState:
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import read_state

    state = read_state(directory.absolute())
    if state is None:
        raise ConfigurationError(f"no network state file in {directory}: `postex network up`")
    return state


def _ended(node: str, ended: list[tuple[Process, str]], as_json: bool) -> None:
    if as_json:
        emit_json({"ok": True, "node": node, "stopped": [
            {"name": p.name, "pid": p.pid, "how": how} for p, how in ended]})  # fmt: skip
        return
    for p, how in ended:
        out.print(f"{p.name:<16} pid {p.pid:<8} {how}")


def _started(node: str, procs: list[Process], as_json: bool) -> None:
    if as_json:
        emit_json({"ok": True, "node": node,
                   "started": [{"name": p.name, "pid": p.pid} for p in procs]})  # fmt: skip
        return
    for p in procs:
        out.print(f"{p.name:<16} pid {p.pid:<8} started")


@handle_errors
def cut(node: NodeOpt, directory: DirOpt = Path(DEFAULT_DIR), as_json: JsonOpt = False) -> None:
    """Cut one node off the network: stop its link (the relay between the node and the NATS
    server, on the node's own port). Its connections close and new ones are refused, as when
    its line goes down; its processes keep running and serving HTTP.

    Example: postex network cut --node GBLALA --dir var/network
    """
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import find_node, link_name, stop, write_state

    directory = directory.absolute()
    state = _loaded(directory)
    target = find_node(state, node)
    if not target.nats_url:
        raise ConfigurationError(
            f"{target.site} has no link of its own (a network started before links existed):"
            f" `postex network down --dir {directory}`, then `up` again"
        )
    links = [p for p in state.processes if p.name == link_name(target)]
    ended = stop(links, directory)
    state.processes = [p for p in state.processes if p not in links]
    write_state(directory, state)
    _ended(target.site, ended, as_json)


@handle_errors
def reconnect(
    node: NodeOpt, directory: DirOpt = Path(DEFAULT_DIR), as_json: JsonOpt = False
) -> None:
    """Give a node cut off by `postex network cut` its link back (on the same port): its
    NATS clients reconnect by themselves and replication catches up.

    Example: postex network reconnect --node GBLALA --dir var/network
    """
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import find_node, link_name, running, write_state

    directory = directory.absolute()
    state = _loaded(directory)
    target = find_node(state, node)
    if any(p.name == link_name(target) and running(p) for p in state.processes):
        raise ConfigurationError(f"{target.site}'s link is up: nothing to reconnect")
    state.processes = [p for p in state.processes if p.name != link_name(target)]
    _start_link(state, directory, target)
    write_state(directory, state)
    _started(target.site, [p for p in state.processes if p.name == link_name(target)], as_json)


@handle_errors
def stop_node(
    node: NodeOpt,
    directory: DirOpt = Path(DEFAULT_DIR),
    kill: Annotated[
        bool, typer.Option("--kill", help="SIGKILL at once (a machine that dies), no SIGTERM.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop one node's processes (the hub: its consumer and server; a site: its server);
    the other nodes, NATS and the node's link keep running. `postex network start` starts
    them again on the same ports and database.

    Example: postex network stop --node HUB --dir var/network
    """
    from postex.network.box import find_node, node_process_names, stop, write_state
    from postex.network.box import kill as kill_now

    directory = directory.absolute()
    state = _loaded(directory)
    target = find_node(state, node)
    names = node_process_names(target)
    procs = [p for p in state.processes if p.name in names]
    ended = kill_now(procs, directory) if kill else stop(reversed(procs), directory)
    state.processes = [p for p in state.processes if p not in procs]
    write_state(directory, state)
    _ended(target.site, ended, as_json)


@handle_errors
def start_node(
    node: NodeOpt, directory: DirOpt = Path(DEFAULT_DIR), as_json: JsonOpt = False
) -> None:
    """Start again one node stopped by `postex network stop` (same ports, same database)
    and return once it answers /readyz.

    Example: postex network start --node HUB --dir var/network
    """
    from postex.kernel.errors import ConfigurationError
    from postex.network.box import (
        find_node,
        node_process_names,
        running,
        stop,
        wait_ready,
        write_state,
    )

    directory = directory.absolute()
    state = _loaded(directory)
    target = find_node(state, node)
    names = node_process_names(target)
    if any(p.name in names and running(p) for p in state.processes):
        raise ConfigurationError(f"{target.site} is running: `postex network stop` it first")
    state.processes = [p for p in state.processes if p.name not in names]
    before = len(state.processes)
    try:
        serve = _spawn_node(state, directory, target)
        wait_ready(serve, target.url, 90)
    except BaseException:
        stop(state.processes[before:], directory)
        state.processes = state.processes[:before]
        write_state(directory, state)
        raise
    write_state(directory, state)
    _started(target.site, state.processes[before:], as_json)
