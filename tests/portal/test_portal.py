"""The sender portal through HTTP: sign-in, scoping between customers, CSRF, the item
form, manifests with refusals, batch labels (portal and API) and the collection manifest."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.items.app.customer_items import create_items
from postex.items.domain.items import parse_pre_advice
from postex.kernel.ids import S10
from postex.web.portal import COOKIE
from tests.console.helpers import sign_in as console_sign_in
from tests.console.helpers import user as staff_user
from tests.factories import SITE, item_payload, make_caller, new_items
from tests.pdf.pdfcheck import all_text, barcodes, open_pdf
from tests.portal.helpers import (
    PASSWORD,
    csrf_of,
    manifest_csv,
    portal_sign_in,
    post_sign_in,
    sender,
)

HOST = "testserver.local"


def head(node: Container) -> int:
    return node.store.head(SITE)[0]


def item_ids(html: str) -> set[str]:
    return set(re.findall(r'href="/portal/items/([A-Z]{2}[0-9]{9}[A-Z]{2})"', html))


def test_a_sender_signs_in_and_sees_only_their_items(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    bob = sender(node, "Brick Lane Books", "bob")
    own = {i.id for i in new_items(node, anna.customer_id, 3)}
    theirs = {i.id for i in new_items(node, bob.customer_id, 2)}
    r = post_sign_in(browser_client, "anna")
    assert (r.status_code, r.headers["location"]) == (303, "/portal/items")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/portal" in cookie
    page = browser_client.get("/portal/items")
    assert page.status_code == 200
    assert item_ids(page.text) == own
    assert not theirs & set(re.findall(r"[A-Z]{2}[0-9]{9}[A-Z]{2}", page.text))
    assert "Brick Lane" not in page.text


def test_a_wrong_password_is_refused_and_opens_nothing(
    node: Container, browser_client: TestClient
) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    r = post_sign_in(browser_client, "anna", "nope" * 4)
    assert r.status_code == 401
    assert "wrong username or password" in r.text
    assert browser_client.get("/portal/items").headers["location"] == "/portal/sign-in"


def test_a_sign_in_form_without_the_browsers_token_is_403_and_checks_nothing(
    node: Container, browser_client: TestClient
) -> None:
    """A form posted from another site (no token, or not this browser's) signs nobody in
    and counts no failure."""
    sender(node, "Thistle & Thread Ltd", "anna")
    before = head(node)
    for token in ("", "guessed"):
        form = {"username": "anna", "password": PASSWORD, "csrf_token": token}
        r = browser_client.post("/portal/sign-in", data=form)
        assert r.status_code == 403
        assert browser_client.cookies.get(COOKIE) is None
    assert head(node) == before


def test_a_token_the_node_did_not_sign_is_refused_even_when_cookie_and_form_agree(
    node: Container, browser_client: TestClient
) -> None:
    """The portal's sign-in token is the console's kind, signed by the node: one planted as
    a cookie (say by a sibling subdomain) and sent again in the form is still a forgery."""
    sender(node, "Thistle & Thread Ltd", "anna")
    planted = "1700000000.planted-by-someone-else.0000"
    browser_client.cookies.set("postex_portal_sign_in", planted, domain=HOST,
                               path="/portal/sign-in")  # fmt: skip
    form = {"username": "anna", "password": PASSWORD, "csrf_token": planted}
    assert browser_client.post("/portal/sign-in", data=form).status_code == 403
    assert browser_client.cookies.get(COOKIE) is None
    fresh = csrf_of(browser_client.get("/portal/sign-in").text)
    assert fresh != planted  # the page drew a token of its own instead


def test_staff_and_portal_sessions_do_not_open_each_other(
    node: Container, browser_client: TestClient
) -> None:
    """A clerk's session is no portal session, and a sender's is no console session."""
    staff_user(node, "clara", "clerk")
    sender(node, "Thistle & Thread Ltd", "anna")
    console_sign_in(browser_client, "clara")
    clerk_cookie = browser_client.cookies.get("postex_console")
    browser_client.cookies.clear()
    browser_client.cookies.set(COOKIE, clerk_cookie, domain=HOST, path="/portal")
    assert browser_client.get("/portal/items").headers["location"] == "/portal/sign-in"
    browser_client.cookies.clear()
    portal_sign_in(browser_client, "anna")
    portal_cookie = browser_client.cookies.get(COOKIE)
    browser_client.cookies.clear()
    browser_client.cookies.set("postex_console", portal_cookie, domain=HOST, path="/console")
    r = browser_client.get(f"/console/sites/{SITE}/accept")
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in")


def test_another_customers_item_is_the_same_404_as_a_missing_one(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    bob = sender(node, "Brick Lane Books", "bob")
    new_items(node, anna.customer_id)
    [foreign] = new_items(node, bob.customer_id)
    missing = str(S10.issue("LA", 99999999, "GB"))
    portal_sign_in(browser_client, "anna")
    for path in ("", "/label.pdf", "/cn23.pdf"):
        a = browser_client.get(f"/portal/items/{foreign.id}{path}")
        b = browser_client.get(f"/portal/items/{missing}{path}")
        assert a.status_code == b.status_code == 404
        assert a.text.replace(foreign.id, "X") == b.text.replace(missing, "X")
        assert "Bartholomew" not in a.text
    csrf = csrf_of(browser_client.get("/portal/items/new").text)
    before = head(node)
    r = browser_client.post(f"/portal/items/{foreign.id}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert head(node) == before
    search = browser_client.get("/portal/items", params={"id": foreign.id})
    assert not item_ids(search.text)
    assert "No items match." in search.text


def test_search_by_reference_destination_state_and_date_and_paging(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    new_items(node, anna.customer_id, 55)
    advice = parse_pre_advice(item_payload(reference="SPECIAL-9"))
    made = create_items(node.ctx, anna.customer_id, [advice], lambda r, _a: {"id": r[0].id})
    special_id = made.body["id"]
    portal_sign_in(browser_client, "anna")
    first = browser_client.get("/portal/items")
    assert len(item_ids(first.text)) == 50
    nxt = re.search(r'href="(/portal/items\?cursor=[^"]+)" rel="next"', first.text)
    assert nxt is not None
    second = browser_client.get(nxt.group(1).replace("&amp;", "&"))
    assert len(item_ids(second.text)) == 6
    assert not item_ids(first.text) & item_ids(second.text)
    by_ref = browser_client.get("/portal/items", params={"reference": "SPECIAL-9"})
    assert item_ids(by_ref.text) == {special_id}
    by_id = browser_client.get("/portal/items", params={"id": special_id.lower()})
    assert item_ids(by_id.text) == {special_id}
    assert not item_ids(browser_client.get("/portal/items", params={"destination": "FR"}).text)
    assert not item_ids(browser_client.get("/portal/items", params={"state": "delivered"}).text)
    today = node.ctx.clock.now().date().isoformat()
    dated = browser_client.get("/portal/items", params={"date": today, "state": "pre_advised"})
    assert len(item_ids(dated.text)) == 50
    bad = browser_client.get("/portal/items", params={"date": "yesterday"})
    assert bad.status_code == 422
    assert "a date such as" in bad.text


def test_a_write_without_the_csrf_token_is_403_and_writes_nothing(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    [item] = new_items(node, anna.customer_id)
    portal_sign_in(browser_client, "anna")
    before = head(node)
    r = browser_client.post(f"/portal/items/{item.id}/cancel", data={"csrf_token": "forged"})
    assert r.status_code == 403
    r = browser_client.post("/portal/items/new", data={"service": "tracked", "weight_g": "850"})
    assert r.status_code == 403
    files = {"file": ("m.csv", manifest_csv(3), "text/csv")}
    r = browser_client.post("/portal/manifests", files=files, data={"csrf_token": ""})
    assert r.status_code == 403
    r = browser_client.post("/portal/labels", data={"ids": item.id})
    assert r.status_code == 403
    assert head(node) == before
    page = browser_client.get(f"/portal/items/{item.id}")
    assert "pre advised" in page.text


def test_cancel_with_the_token(node: Container, browser_client: TestClient) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    [item] = new_items(node, anna.customer_id)
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get(f"/portal/items/{item.id}").text)
    r = browser_client.post(f"/portal/items/{item.id}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303
    page = browser_client.get(r.headers["location"])
    assert "Item cancelled." in page.text and "<dd>cancelled</dd>" in page.text
    assert "label.pdf" not in page.text


def _form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf, "service": "tracked", "reference": "FORM-1", "weight_g": "850",
        "sender_name": "Margaret Thistlewood", "sender_address_line_1": "14 Marigold Lane",
        "sender_city": "London", "sender_postcode": "SW1A 1AA", "sender_country": "GB",
        "addressee_name": "Bartholomew Quincey", "addressee_address_line_1": "2200 Juniper Blvd",
        "addressee_city": "New York", "addressee_region": "NY", "addressee_postcode": "10001",
        "addressee_country": "US", "contents_category": "sale_of_goods",
        "description-1": "Cotton T-shirt", "quantity-1": "2", "net_weight_g-1": "400",
        "value_minor-1": "2500", "currency-1": "GBP", "hs_code-1": "610910",
        "origin_country-1": "GB",
    }  # fmt: skip
    form.update(changes)
    return form


def test_the_item_form_shows_each_rule_next_to_its_field_then_creates(
    node: Container, browser_client: TestClient
) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get("/portal/items/new").text)
    before = head(node)
    r = browser_client.post(
        "/portal/items/new",
        data=_form(csrf, weight_g="heavy", addressee_country="ZZ", **{"quantity-1": "0"}),
    )
    assert r.status_code == 422
    assert head(node) == before
    for name in ("weight_g", "addressee_country", "quantity-1"):
        field = re.search(rf'id="f-{name}"[^>]*aria-invalid="true"[^>]*>\s*<p class="field-error"'
                          rf' id="e-{name}">([^<]+)</p>', r.text)  # fmt: skip
        assert field is not None, name
        assert "rule " in field.group(1)
    assert 'value="heavy"' in r.text  # what was typed stays
    r = browser_client.post("/portal/items/new", data=_form(csrf))
    assert r.status_code == 303
    page = browser_client.get(r.headers["location"])
    assert "Item created." in page.text and "FORM-1" in page.text
    label = browser_client.get(r.headers["location"].split("?")[0] + "/label.pdf")
    assert label.headers["content-type"] == "application/pdf"


def test_a_manifest_with_bad_rows_lists_each_refusal_then_the_fixed_one_is_stored(
    node: Container, browser_client: TestClient
) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get("/portal/manifests").text)
    bad = {4: "addressee_country", 7: "weight_g", 11: "sender_name"}
    before = head(node)
    upload = {"file": ("day.csv", manifest_csv(12, bad), "text/csv")}
    r = browser_client.post("/portal/manifests", data={"csrf_token": csrf}, files=upload)
    assert r.status_code == 422
    assert head(node) == before
    table = r.text.split('id="refusals"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>([^<]+)</td><td>([^<]+)</td>"
                      r"<td>([^<]*)</td>", table)  # fmt: skip
    found = {(int(line), col, value) for line, col, _rule, value in rows}
    assert found == {(4, "addressee_country", "ZZ"), (7, "weight_g", "heavy"),
                     (11, "sender_name", "=HYPERLINK(1)")}  # fmt: skip
    assert all(rule for _l, _c, rule, _v in rows)
    assert "csv_formula" in table
    upload = {"file": ("day.csv", manifest_csv(12), "text/csv")}
    fixed = browser_client.post("/portal/manifests", data={"csrf_token": csrf}, files=upload)
    assert fixed.status_code == 201
    stored = item_ids(fixed.text.split('id="stored"', 1)[1])
    assert len(stored) == 12
    ids = re.search(r'name="ids" value="([^"]+)"', fixed.text)
    assert ids is not None and set(ids.group(1).split()) == stored


def test_a_json_manifest_is_checked_the_same_way(
    node: Container, browser_client: TestClient
) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get("/portal/manifests").text)
    body = b'[{"service": "tracked", "weight_g": -1}]'
    r = browser_client.post("/portal/manifests", data={"csrf_token": csrf},
                            files={"file": ("m.json", body, "application/json")})  # fmt: skip
    assert r.status_code == 422
    assert '<td class="num">1</td>' in r.text


def test_batch_labels_through_the_api_print_every_label_and_refuse_foreign_ids(
    node: Container, client: TestClient
) -> None:
    anna = make_caller(node, "Thistle & Thread Ltd")
    bob = make_caller(node, "Brick Lane Books")
    own = [i.id for i in new_items(node, anna.id, 4)]
    [foreign] = [i.id for i in new_items(node, bob.id)]
    r = client.post("/api/v1/labels", json={"ids": own}, headers=anna.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    doc = open_pdf(r.content)
    label_pages = [p for p in doc if p.rect.width < 300]
    assert [barcodes(p) for p in label_pages] == [[i] for i in own]
    nobody = str(S10.issue("LA", 99999999, "GB"))
    missing = client.post("/api/v1/labels", json={"ids": [own[0], nobody]}, headers=anna.headers)
    other = client.post("/api/v1/labels", json={"ids": [own[0], foreign]}, headers=anna.headers)
    assert missing.status_code == other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["detail"].replace(foreign, "X") == missing.json()["detail"].replace(
        nobody, "X"
    )
    bad = client.post("/api/v1/labels", json={"ids": ["nonsense"]}, headers=anna.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "ids.0"
    assert client.post("/api/v1/labels", json={"ids": own}).status_code == 401
    assert client.post("/api/v1/labels", json={"ids": []}, headers=anna.headers).status_code == 422


def test_the_portal_prints_a_batch_and_the_collection_manifest(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    bob = sender(node, "Brick Lane Books", "bob")
    own = [i.id for i in new_items(node, anna.customer_id, 3)]
    [foreign] = [i.id for i in new_items(node, bob.customer_id)]
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get("/portal/labels").text)
    r = browser_client.post("/portal/labels", data={"csrf_token": csrf, "ids": " ".join(own)})
    assert r.headers["content-type"] == "application/pdf"
    labels = open_pdf(r.content)
    assert {b for p in labels if p.rect.width < 300 for b in barcodes(p)} == set(own)
    both = {"csrf_token": csrf, "ids": f"{own[0]}\n{foreign}"}
    refused = browser_client.post("/portal/labels", data=both)
    assert refused.status_code == 404
    assert "Nothing was printed" in refused.text
    everything = browser_client.post("/portal/labels", data={"csrf_token": csrf, "ids": ""})
    assert len([p for p in open_pdf(everything.content) if p.rect.width < 300]) == 3
    page = browser_client.get("/portal/collection")
    assert item_ids(page.text) == set(own)
    pdf = browser_client.get("/portal/collection.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    doc = open_pdf(pdf.content)
    assert sorted(b for p in doc for b in barcodes(p)) == sorted(own)
    assert "Thistle & Thread Ltd" in all_text(doc)
    assert foreign not in all_text(doc)


@pytest.mark.parametrize("path", ["/portal/items", "/portal/manifests", "/portal/collection"])
def test_pages_need_a_sign_in(browser_client: TestClient, path: str) -> None:
    r = browser_client.get(path)
    assert (r.status_code, r.headers["location"]) == (303, "/portal/sign-in")
