"""The console's transfers page: a Gatwick clerk sends a US item to Heathrow; a Heathrow
clerk scans it in; refusals are the error page naming the rule; CSRF is checked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.sites.app.acceptance import Scan, accept
from tests.console.helpers import csrf_of, sign_in, user
from tests.factories import letters, staff

GATWICK, HEATHROW = "GBLGWA", "GBLALA"


def _site_of(node: Container, item_id: str) -> tuple[object, ...]:
    rows = execute_raw(
        node.engine, f"SELECT site, transfer_to FROM item_handling WHERE item_id = '{item_id}'"
    )
    return tuple(rows[0])


def test_send_and_receive_from_the_console(node: Container, browser_client: TestClient) -> None:
    item = letters(node, 1, 0)[0]
    api_clerk = staff(node, "clerk", GATWICK, "api.clerk.gatwick")
    accept(node.site_ops, api_clerk.principal, GATWICK, [Scan(item.id, item.weight_g)])
    user(node, "gina", "clerk", GATWICK)
    user(node, "hugo", "clerk", HEATHROW)

    sign_in(browser_client, "gina")
    form = browser_client.get(f"/console/sites/{GATWICK}/transfers")
    assert form.status_code == 200 and 'value="GBLALA"' in form.text
    token = csrf_of(form.text)
    send = f"/console/sites/{GATWICK}/transfers/send"
    no_csrf = browser_client.post(send, data={"to_site": HEATHROW, "item_ids": item.id})
    assert no_csrf.status_code == 403
    wrong = browser_client.post(send, data={"to_site": "GBBHXA", "item_ids": item.id,
                                            "csrf_token": token})  # fmt: skip
    assert wrong.status_code == 422 and "other_route_origin" in wrong.text
    assert _site_of(node, item.id) == (GATWICK, None)
    sent = browser_client.post(send, data={"to_site": HEATHROW, "item_ids": item.id.lower(),
                                           "csrf_token": token})  # fmt: skip
    assert sent.status_code == 200, sent.text
    assert "Sent 1 item(s) to GBLALA" in sent.text
    assert _site_of(node, item.id) == (GATWICK, HEATHROW)

    browser_client.cookies.clear()
    sign_in(browser_client, "hugo")
    page = browser_client.get(f"/console/sites/{HEATHROW}/transfers")
    form_data = {"item_ids": item.id, "csrf_token": csrf_of(page.text)}
    got = browser_client.post(f"/console/sites/{HEATHROW}/transfers/received", data=form_data)
    assert got.status_code == 200, got.text
    assert "Received 1 item(s)" in got.text
    assert _site_of(node, item.id) == (HEATHROW, None)
    # Gina's site is not Hugo's: 404 as everywhere.
    assert browser_client.get(f"/console/sites/{GATWICK}/transfers").status_code == 404
