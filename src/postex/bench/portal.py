"""``postex bench portal``: a manifest uploaded through the sender portal against the same
file through the API, and one PDF of 500 labels.

One scratch node is served by ``postex serve`` in its own process. A sender signs in to the
portal (a session cookie and its CSRF token) and the same customer's API key posts to
``POST /api/v1/manifests``. Rounds alternate (API, portal, API, portal, …) so the machine's
noise falls on both sides; each round uploads a fresh manifest of ``items`` one-line items
as CSV. The ratio is of the medians of the rounds' items per second. Then the labels of 500
of the stored items are asked for in one PDF, through ``POST /api/v1/labels`` and through
the portal's *Labels* form, and timed.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
import time
from dataclasses import dataclass

import httpx
import typer
from rich.table import Table

from postex.accounts.app.customers import create_customer
from postex.accounts.app.portal_users import create_customer_user
from postex.bench.common import machine, scratch_node
from postex.bench.tracking import free_port, start_server
from postex.cli.common import err, out, progress_bar

SITE = "GBLALA"
PASSWORD = "bench portal password"  # noqa: S105 - a throwaway node's sender
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STORED = re.compile(r'id="stored">(\d+) items stored')
ROW = {
    "service": "tracked", "weight_g": "850", "sender_name": "Bench Sender",
    "sender_address_line_1": "1 Bench Street", "sender_city": "London",
    "sender_postcode": "SW1A 1AA", "sender_country": "GB", "addressee_name": "Bench Addressee",
    "addressee_address_line_1": "2 Bench Avenue", "addressee_city": "New York",
    "addressee_region": "NY", "addressee_postcode": "10001", "addressee_country": "US",
    "contents_category": "sale_of_goods", "description": "Cotton T-shirt", "quantity": "2",
    "net_weight_g": "400", "value_minor": "2500", "currency": "GBP", "hs_code": "610910",
    "origin_country": "GB",
}  # fmt: skip


@dataclass
class Upload:
    path: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def manifest(items: int, round_no: int) -> bytes:
    """``items`` one-line items as CSV, each with its own reference."""
    buffer = io.StringIO()
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(["reference", *ROW])
    for n in range(items):
        w.writerow([f"R{round_no}-{n:06d}", *ROW.values()])
    return buffer.getvalue().encode()


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise RuntimeError("no CSRF token on the portal page")
    return found.group(1)


def upload_api(api: httpx.Client, key: str, body: bytes) -> tuple[int, list[str]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    r = api.post("/api/v1/manifests", content=body, headers=headers)
    if r.status_code != 201:
        raise RuntimeError(f"the API answered {r.status_code}: {r.text[:300]}")
    ids = [i["id"] for i in r.json()["items"]]
    return len(ids), ids


def upload_portal(web: httpx.Client, csrf: str, body: bytes) -> int:
    files = {"file": ("manifest.csv", body, "text/csv")}
    r = web.post("/portal/manifests", data={"csrf_token": csrf}, files=files)
    found = STORED.search(r.text)
    if r.status_code != 201 or not found:
        raise RuntimeError(f"the portal answered {r.status_code}")
    return int(found.group(1))


def bench_portal(items: int, rounds: int, labels: int) -> None:
    """Print items/s of both paths and their ratio, and the time of one batch PDF."""
    with scratch_node("sqlite", None, SITE) as c:
        customer = create_customer(c.ctx, "Bench Exports Ltd")
        create_customer_user(c.ctx, customer.record.id, "bench.sender", PASSWORD)
        url, home = c.settings.db_url, c.settings.home
        port = free_port()
        proc = start_server(url, home, port)
        base = f"http://127.0.0.1:{port}"
        web = httpx.Client(base_url=base, timeout=600, follow_redirects=False)
        api = httpx.Client(base_url=base, timeout=600)
        uploads: list[Upload] = []
        ids: list[str] = []
        try:
            token = _csrf(web.get("/portal/sign-in").text)
            form = {"username": "bench.sender", "password": PASSWORD, "csrf_token": token}
            r = web.post("/portal/sign-in", data=form)
            if r.status_code != 303:
                raise RuntimeError(f"portal sign-in answered {r.status_code}")
            csrf = _csrf(web.get("/portal/manifests").text)
            with progress_bar("rounds (api, portal, …)", 2 * rounds) as update:
                for k in range(2 * rounds):
                    body = manifest(items, k)
                    t0 = time.perf_counter()
                    if k % 2 == 0:
                        n, made = upload_api(api, customer.api_key, body)
                        ids += made
                        uploads.append(Upload("api", n, time.perf_counter() - t0))
                    else:
                        n = upload_portal(web, csrf, body)
                        uploads.append(Upload("portal", n, time.perf_counter() - t0))
                    update(k + 1)
            batch = ids[:labels]
            t0 = time.perf_counter()
            pdf = api.post("/api/v1/labels", json={"ids": batch},
                           headers={"Authorization": f"Bearer {customer.api_key}"})  # fmt: skip
            api_pdf = time.perf_counter() - t0
            t0 = time.perf_counter()
            form = {"csrf_token": csrf, "ids": " ".join(batch)}
            portal_pdf_answer = web.post("/portal/labels", data=form)
            portal_pdf = time.perf_counter() - t0
            for answer in (pdf, portal_pdf_answer):
                if answer.status_code != 200 or not answer.content.startswith(b"%PDF"):
                    raise RuntimeError(f"the batch PDF answered {answer.status_code}")
        except RuntimeError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        finally:
            web.close()
            api.close()
            proc.terminate()
            proc.wait(30)
    _report(uploads, items, len(batch), api_pdf, portal_pdf, len(pdf.content))


def _report(
    uploads: list[Upload], items: int, labels: int, api_pdf: float, portal_pdf: float, size: int
) -> None:
    table = Table(title=f"postex bench portal — sqlite, a {items:,}-item CSV manifest a round")
    for col in ("path", "rounds", "items/s (median)", "seconds (median)"):
        table.add_column(col, justify="right" if col != "path" else "left")
    rates = {}
    for path in ("api", "portal"):
        mine = [u for u in uploads if u.path == path]
        rates[path] = statistics.median(u.rate for u in mine)
        table.add_row(path, str(len(mine)), f"{rates[path]:,.0f}",
                      f"{statistics.median(u.seconds for u in mine):.2f}")  # fmt: skip
    out.print(table)
    out.print(f"ratio portal / API: {rates['portal'] / rates['api']:.2f} (goal >= 0.8)")
    out.print(f"batch PDF of {labels} labels: API {api_pdf:.2f} s, portal {portal_pdf:.2f} s, "
              f"{size / 1e6:.1f} MB (goal < 10 s)")  # fmt: skip
    out.print(f"machine: {machine()}")
