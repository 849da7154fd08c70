"""Customer users: created from the command line, argon2id hashes kept out of the log,
several per account, an erased account's users refused, the demo sender."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.accounts.app.customers import erase_customer
from postex.accounts.app.portal_users import create_customer_user, list_customer_users
from postex.bootstrap import Container
from postex.cli.main import app
from postex.demo import DEMO_PASSWORD, DEMO_SENDER, seed_demo, seed_demo_sender
from postex.kernel.errors import ConflictError, NotFoundError, ValidationError
from tests.console.helpers import totp_code
from tests.factories import SITE, ManualClock, new_customer
from tests.portal.helpers import PASSWORD, csrf_of, portal_sign_in, post_sign_in, sender

runner = CliRunner()


def test_an_account_has_several_users_and_names_are_unique(node: Container) -> None:
    acme = new_customer(node, "Acme")
    create_customer_user(node.ctx, acme.record.id, "anna", PASSWORD)
    create_customer_user(node.ctx, acme.record.id, "ben", PASSWORD)
    assert sorted(u.username for u in list_customer_users(node.ctx, acme.record.id)) == [
        "anna",
        "ben",
    ]
    other = new_customer(node, "Other")
    with pytest.raises(ConflictError):
        create_customer_user(node.ctx, other.record.id, "anna", PASSWORD)
    with pytest.raises(ValidationError) as short:
        create_customer_user(node.ctx, acme.record.id, "carl", "short")
    assert short.value.errors[0].field == "password"
    with pytest.raises(NotFoundError):
        create_customer_user(node.ctx, "cus_nobody", "dora", PASSWORD)


def test_the_password_hash_is_argon2id_and_never_in_the_log(node: Container) -> None:
    acme = new_customer(node, "Acme")
    user = create_customer_user(node.ctx, acme.record.id, "anna", PASSWORD)
    assert user.password_hash.startswith("$argon2id$")
    logged = b"".join(bytes(e.body) for e in node.store.read_events(SITE))
    assert b"argon2" not in logged and PASSWORD.encode() not in logged
    assert b"customer_user.created" in logged


def test_an_erased_accounts_users_cannot_sign_in(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Acme", "anna")
    portal_sign_in(browser_client, "anna")
    browser_client.cookies.clear()
    erase_customer(node.ctx, anna.customer_id)
    r = post_sign_in(browser_client, "anna")
    assert r.status_code == 401


def test_the_demo_has_a_sender_who_signs_in(node: Container, browser_client: TestClient) -> None:
    seed_demo(node.ctx, items_per_customer=2)
    made = seed_demo_sender(node.ctx)
    assert made is not None and made[0] == DEMO_SENDER
    assert seed_demo_sender(node.ctx) == made  # a second run creates nobody new
    assert portal_sign_in(browser_client, DEMO_SENDER, DEMO_PASSWORD) == "/portal/items"
    assert (
        len(re.findall(r'href="/portal/items/[A-Z]{2}', browser_client.get("/portal/items").text))
        == 2
    )


@pytest.mark.sqlite_only
def test_the_cli_creates_and_lists_users_without_printing_secrets(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    assert runner.invoke(app, ["init", *home]).exit_code == 0
    created = runner.invoke(app, ["customers", "create", "--name", "Acme", "--json", *home])
    customer_id = json.loads(created.stdout)["id"]
    add = ["customers", "users", "create", "--customer", customer_id, "--username", "anna"]
    made = runner.invoke(app, [*add, "--password-stdin", "--json", *home], input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["username"] == "anna"
    assert PASSWORD not in made.output and "argon2" not in made.output
    again = runner.invoke(app, [*add, "--password-stdin", *home], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "taken" in again.output
    listed = runner.invoke(app, ["customers", "users", "list", "--customer", customer_id,
                                 "--json", *home])  # fmt: skip
    assert [u["username"] for u in json.loads(listed.stdout)["users"]] == ["anna"]
    assert "argon2" not in listed.output


def test_a_sender_turns_on_totp_and_then_signs_in_with_a_code(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    sender(node, "Acme", "anna")
    portal_sign_in(browser_client, "anna")
    page = browser_client.get("/portal/totp/enrol")
    assert page.status_code == 200 and "<svg" in page.text
    code = totp_code(page.text, clock)
    done = browser_client.post("/portal/totp/enrol",
                               data={"csrf_token": csrf_of(page.text), "code": code})  # fmt: skip
    assert done.status_code == 200 and "recovery codes" in done.text
    signed_out = browser_client.post("/portal/sign-out", data={"csrf_token": csrf_of(done.text)})
    assert signed_out.headers["location"] == "/portal/sign-in"
    clock.advance(seconds=60)
    assert portal_sign_in(browser_client, "anna") == "/portal/sign-in/code"
    assert browser_client.get("/portal/items").headers["location"] == "/portal/sign-in/code"
    step = browser_client.get("/portal/sign-in/code")
    form = {"csrf_token": csrf_of(step.text), "code": "000000"}
    wrong = browser_client.post("/portal/sign-in/code", data=form)
    assert wrong.status_code == 401
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page.text)
    assert secret is not None
    right = pyotp.TOTP(secret.group(1)).at(clock.now())
    ok = browser_client.post("/portal/sign-in/code", data={**form, "code": right})
    assert ok.headers["location"] == "/portal/items"
    assert browser_client.get("/portal/items").status_code == 200
