"""Transfers between our sites: which items may leave a site for another, and which may be
scanned in on arrival. Pure rules; the application supplies the records.

An item is baggable only at the site where it physically is: the site that accepted it, or
the last site that scanned it in after a transfer. While it travels (sent, not received)
no site may bag it.
"""

from __future__ import annotations

from postex.kernel.errors import FieldError

ROUTE = "route"  # the reason recorded when the item's route leaves from the receiving site


def transfer_problem(
    item_id: str,
    state: str | None,
    at_site: str | None,
    transfer_to: str | None,
    here: str,
    to_site: str,
    route_origin: str | None,
) -> FieldError | None:
    """Why ``item_id`` may not be sent from ``here`` to ``to_site``, or None when it may.

    ``state`` is the item's state (None: unknown item), ``at_site`` the site it is at
    (None: never accepted), ``transfer_to`` where it is travelling, ``route_origin`` the site
    its route leaves from (None: no route).
    """
    checks: list[tuple[bool, str, str]] = [
        (state is None, "unknown_item", "no such item"),
        (state == "held", "item_held",
         "the item is held: set it aside until the hold is released"),
        (state != "accepted" or at_site is None, f"state_{state}",
         handled_at(f"item is {state}: only an accepted item that is not in a bag can be"
                    " transferred", at_site, here)),
        (transfer_to is not None, "in_transfer", f"the item is travelling to {transfer_to}"),
        (at_site != here, "not_at_site",
         f"the item is at {at_site}, not {here}: only the site it is at can send it"),
        (route_origin is None, "no_route", "no route for this item"),
        (route_origin == here, "leaves_here", f"the item's route leaves from {here}: bag it here"),
        (route_origin != to_site, "other_route_origin",
         f"the item's route leaves from {route_origin}, not {to_site}: send it there"),
    ]  # fmt: skip
    for broken, rule, message in checks:
        if broken:
            return FieldError("item_id", rule, item_id, message)
    return None


def receive_problem(
    item_id: str, state: str | None, transfer_to: str | None, here: str
) -> FieldError | None:
    """Why ``item_id`` may not be scanned in at ``here`` as a transfer, or None."""
    if state is None:
        return FieldError("item_id", "unknown_item", item_id, "no such item")
    if transfer_to != here:
        where = f"it was sent to {transfer_to}" if transfer_to else "no site sent it here"
        return FieldError(
            "item_id", "not_sent_here", item_id,
            f"the item was not transferred to {here} ({where}): check the label and"
            " hand it to a supervisor",
        )  # fmt: skip
    return None


def handled_at(message: str, at_site: str | None, here: str) -> str:
    """``message``, saying which site handles the item when that is not ``here`` (a site
    restored after a failover must not touch what moved to the survivor)."""
    if at_site is None or at_site == here:
        return message
    return f"{message}; it is handled at {at_site}, not {here}: do not bag or despatch it"


def bag_site_problem(
    item_id: str, at_site: str | None, transfer_to: str | None, here: str
) -> FieldError | None:
    """Why ``item_id`` may not be bagged at ``here``: it is not there, or still travelling."""
    if transfer_to is not None:
        return FieldError(
            "item_id",
            "in_transfer",
            item_id,
            f"the item is travelling to {transfer_to}: scan it in there"
            + (" first (POST …/transfers/received)" if transfer_to == here else ""),
        )
    if at_site is not None and at_site != here:
        return FieldError(
            "item_id", "not_at_site", item_id,
            f"the item is at {at_site}, neither accepted at nor transferred to {here}:"
            f" {at_site} must transfer it here first",
        )  # fmt: skip
    return None
