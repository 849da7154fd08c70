"""Staff administration in the app layer: admins only, events in the log, a projection that
survives a rebuild, tokens refused while disabled (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from postex.accounts.app import staff_admin
from postex.accounts.app.auth import CredentialRepository, authenticate
from postex.bootstrap import Container
from postex.kernel.errors import ForbiddenError, InvalidStateError, UnauthenticatedError
from tests.factories import SITE, staff


@pytest.mark.parametrize("role", ["clerk", "supervisor", "ops", "auditor"])
def test_only_admins_administer_users(node: Container, role: str) -> None:
    someone = staff(node, role, SITE if role in ("clerk", "supervisor") else None)
    target = staff(node, "clerk", SITE, name="clara")
    before = node.store.head(SITE)
    for attempt in (
        lambda: staff_admin.list_users(node.console, someone.principal),
        lambda: staff_admin.disable_user(node.console, someone.principal, "clara", "x"),
        lambda: staff_admin.enable_user(node.console, someone.principal, "clara", "x"),
        lambda: staff_admin.user_sessions(node.console, someone.principal, "clara"),
        lambda: staff_admin.end_sessions(node.console, someone.principal, "clara", "x"),
    ):
        with pytest.raises(ForbiddenError):
            attempt()
    assert node.store.head(SITE) == before
    assert target.principal.subject


def test_disabled_state_is_rebuilt_from_the_log_and_refuses_the_token(node: Container) -> None:
    admin = staff(node, "admin", None, name="ada")
    clara = staff(node, "clerk", SITE, name="clara")

    def works() -> bool:
        with node.store.read() as uow:
            try:
                authenticate(uow.repo(CredentialRepository), clara.token)
            except UnauthenticatedError:
                return False
        return True

    staff_admin.disable_user(node.console, admin.principal, "Clara ", "on leave")
    assert not works()
    node.rebuilder.rebuild()
    [listed] = [u for u in staff_admin.list_users(node.console, admin.principal)
                if u.username == "clara"]  # fmt: skip
    assert (listed.disabled, listed.disabled_reason) == (True, "on leave")
    assert not works()
    with pytest.raises(InvalidStateError):
        staff_admin.disable_user(node.console, admin.principal, "clara", "again")
    with pytest.raises(ForbiddenError):
        staff_admin.disable_user(node.console, admin.principal, "ada", "myself")
    staff_admin.enable_user(node.console, admin.principal, "clara", "back")
    node.rebuilder.rebuild()
    assert works()
    with pytest.raises(InvalidStateError):
        staff_admin.enable_user(node.console, admin.principal, "clara", "again")
