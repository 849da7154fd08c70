"""``postex bench manifest``: a 10,000-item manifest through the real HTTP API on SQLite.

Each run starts a fresh node in a temporary directory, serves it with uvicorn on a free
port of 127.0.0.1, creates a customer and POSTs the manifest with httpx; it counts the
stored items afterwards. The same-run baseline pre-advises the same items through the app
layer without HTTP, so the table shows what HTTP, JSON and CSV parsing add.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postex.bootstrap import Container, build
from postex.cli.common import emit_json, out, progress_bar
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.items.http.schemas import ITEM_EXAMPLE

GOAL_SECONDS = 10.0


def _items(n: int) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        item = copy.deepcopy(ITEM_EXAMPLE)
        item["reference"] = f"BENCH-{i:06d}"
        items.append(item)
    return items


def _csv(items: list[dict[str, Any]]) -> bytes:
    from postex.items.app.manifests import COLUMNS

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for item in items:
        row: dict[str, Any] = {
            "reference": item["reference"], "service": item["service"],
            "weight_g": item["weight_g"], "contents_category": item["contents"]["category"],
            "invoice_number": item["contents"].get("invoice_number", ""),
            "importer_ioss": (item.get("importer") or {}).get("ioss", ""),
        }  # fmt: skip
        for k, v in item["dimensions_mm"].items():
            row[f"{k}_mm"] = v
        for who in ("sender", "addressee"):
            for key, value in item[who].items():
                if key == "address_lines":
                    for n, line in enumerate(value, 1):
                        row[f"{who}_address_line_{n}"] = line
                else:
                    row[f"{who}_{key}"] = value
        for line in item["contents"]["lines"]:
            writer.writerow({**row, **line})
    return buf.getvalue().encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node(home: Path, db: str | None) -> Container:
    url = db or f"sqlite:///{home / 'postex.db'}"
    return build(load_settings(home=str(home), db_url=url), create=True)


def _stored(node: Container, customer_id: str) -> int:
    rows = execute_raw(
        node.engine, "SELECT count(*) FROM items WHERE customer_id = ?", [customer_id]
    )
    return int(rows[0][0])


def _over_http(node: Container, body: bytes, content_type: str) -> tuple[float, str]:
    import httpx
    import uvicorn

    from postex.accounts.app.customers import create_customer
    from postex.server import create_app

    customer = create_customer(node.ctx, "Bench Exports Ltd")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        headers = {"Authorization": f"Bearer {customer.api_key}", "Content-Type": content_type}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            start = time.perf_counter()
            r = client.post("/api/v1/manifests", content=body, headers=headers)
            elapsed = time.perf_counter() - start
        if r.status_code != 201:
            raise RuntimeError(f"manifest refused: {r.status_code} {r.text[:300]}")
    finally:
        server.should_exit = True
        thread.join()
    return elapsed, customer.record.id


def _direct(node: Container, items: list[dict[str, Any]]) -> tuple[float, str]:
    from postex.accounts.app.customers import create_customer
    from postex.items.app.preadvice import pre_advise
    from postex.items.domain.items import parse_pre_advice

    customer = create_customer(node.ctx, "Bench Exports Ltd")
    start = time.perf_counter()
    advices = [parse_pre_advice(item, node.ctx.country) for item in items]
    pre_advise(node.ctx, customer.record.id, advices)
    return time.perf_counter() - start, customer.record.id


def _run(
    db: str | None, home: str | None, work: Callable[[Container], tuple[float, str]], n: int
) -> float:
    with tempfile.TemporaryDirectory(prefix="postex-bench-") as tmp:
        node = _node(Path(home) if home else Path(tmp), db)
        try:
            elapsed, customer_id = work(node)
            stored = _stored(node, customer_id)
            if stored != n:
                raise RuntimeError(f"expected {n} stored items, found {stored}")
        finally:
            node.close()
    return elapsed


def bench_manifest(items: int, runs: int, db: str | None, home: str | None, as_json: bool) -> None:
    """Print the median seconds and items/s of each variant over ``runs`` runs (see the module).

    Without ``db``/``home`` every run uses a fresh node in a temporary directory.
    """
    payload = _items(items)
    json_body = json.dumps(payload).encode()
    csv_body = _csv(payload)
    variants: list[tuple[str, Callable[[Container], tuple[float, str]]]] = [
        ("app layer, no HTTP (baseline)", lambda node: _direct(node, payload)),
        ("HTTP JSON manifest", lambda node: _over_http(node, json_body, "application/json")),
        ("HTTP CSV manifest", lambda node: _over_http(node, csv_body, "text/csv")),
    ]
    results: dict[str, list[float]] = {name: [] for name, _ in variants}
    with progress_bar("manifest runs", runs * len(variants)) as update:
        done = 0
        for _ in range(runs):
            for name, work in variants:
                results[name].append(_run(db, home, work, items))
                done += 1
                update(done)
    rows = [
        {"variant": name, "items": items, "runs": runs,
         "median_s": round(statistics.median(times), 3),
         "items_per_s": round(items / statistics.median(times)),
         "body_bytes": {"HTTP JSON manifest": len(json_body),
                        "HTTP CSV manifest": len(csv_body)}.get(name, 0)}
        for name, times in results.items()
    ]  # fmt: skip
    if as_json:
        emit_json({"bench": "manifest", "results": rows, "goal_seconds": GOAL_SECONDS})
        return
    out.print(f"{'variant':32} {'items':>7} {'median s':>9} {'items/s':>9} {'runs':>5}")
    for r in rows:
        out.print(
            f"{r['variant']:32} {r['items']:>7} {r['median_s']:>9.3f} "
            f"{r['items_per_s']:>9} {r['runs']:>5}"
        )
    worst = max(statistics.median(t) for name, t in results.items() if name.startswith("HTTP"))
    verdict = "met" if worst < GOAL_SECONDS else "NOT met"
    out.print(f"goal: {items} items in under {GOAL_SECONDS:g} s over HTTP — {verdict}")
