""" "Which bag?": the despatch series an item travels in and the open receptacle it goes in.

The console asks after each accepted scan; the answer comes from the routing table (the
network file) and the site's open receptacles, never from the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from postex.accounts.app.auth import Principal
from postex.items.app.preadvice import ItemRecord
from postex.kernel.errors import FieldError, NotFoundError, ValidationError
from postex.kernel.network import Site, impc_codes
from postex.kernel.reference import services
from postex.sites.app.ops import READING_ROLES, ReceptacleRecord, SiteOps, SiteOpsRepository
from postex.sites.domain.receptacles import ReceptacleState


@dataclass(frozen=True)
class BagAdvice:
    """Where an item goes next at ``site``.

    ``leaves_here`` is False when the item is despatched from another office of exchange
    (``origin``): it travels there first and no receptacle here takes it. Otherwise
    ``receptacle_id`` is the oldest open receptacle of the series, or None when none is
    open (open one for the series).
    """

    item_id: str
    site: str
    origin: str
    destination: str
    destination_name: str
    category: str
    subclass: str
    leaves_here: bool
    receptacle_id: str | None
    receptacle_items: int = 0


def which_bag(ops: SiteOps, p: Principal, site_code: str, item_id: str) -> BagAdvice:
    """The series and open receptacle for ``item_id`` at ``site_code``.

    NotFoundError for an unknown item or another site of a site-bound user; ValidationError
    (``no_route``) when the routing table has no route for the item.
    """
    site = ops.site(p, site_code, READING_ROLES)
    item_id = item_id.replace(" ", "").upper()
    with ops.ctx.store.read() as uow:
        repo = uow.repo(SiteOpsRepository)
        item = repo.items([item_id]).get(item_id)
        if item is None:
            raise NotFoundError(f"no item {item_id}")
        route = ops.network.route(item.destination, services().get(item.service).mail_class)
        leaves_here = route.origin == site.code
        open_bag = None
        if leaves_here:
            series = (route.destination, route.category, route.subclass)
            open_bag = next(
                (
                    r
                    for r in repo.receptacles(site.code, state=ReceptacleState.OPEN)
                    if (r.destination, r.category, r.subclass) == series
                ),
                None,
            )
    return BagAdvice(
        item_id=item_id,
        site=site.code,
        origin=route.origin,
        destination=route.destination,
        destination_name=_office_name(route.destination),
        category=route.category,
        subclass=route.subclass,
        leaves_here=leaves_here,
        receptacle_id=open_bag.id if open_bag else None,
        receptacle_items=open_bag.item_count if open_bag else 0,
    )


@dataclass(frozen=True)
class SeriesChoice:
    """A despatch series this site makes: a receptacle may be opened for it."""

    destination: str
    destination_name: str
    category: str
    subclass: str

    @property
    def key(self) -> str:
        return f"{self.destination}/{self.category}/{self.subclass}"


def series_from(ops: SiteOps, p: Principal, site_code: str) -> list[SeriesChoice]:
    """The series the routing table has this site despatch, by destination and class."""
    site = ops.site(p, site_code, READING_ROLES)
    found = {
        (r.destination, r.category, r.subclass) for r in ops.network.routes if r.origin == site.code
    }
    return [SeriesChoice(d, _office_name(d), c, s) for d, c, s in sorted(found)]


def _office_name(impc: str) -> str:
    """The office's name from the IMPC code list, or the code when the list lacks it."""
    office = impc_codes().get(impc)
    return office.name if office else impc


def route_problems(
    ops: SiteOps, r: ReceptacleRecord, item_id: str, item: ItemRecord
) -> list[FieldError]:
    """Why ``item`` does not go in bag ``r`` by its route: it leaves from another site
    (``transfer_to_site``: transfer it there) or is of another series (``other_series``)."""
    route = ops.network.route(item.destination, services().get(item.service).mail_class)
    if route.origin != r.site:
        return [
            FieldError(
                "item_id",
                "transfer_to_site",
                item_id,
                f"item leaves from {route.origin}, not {r.site}: transfer it to {route.origin}"
                f" (POST /api/v1/sites/{r.site}/transfers)",
            )
        ]
    here = (r.destination, r.category, r.subclass)
    if (route.destination, route.category, route.subclass) != here:
        return [
            FieldError(
                "item_id",
                "other_series",
                item_id,
                f"item goes to {route.destination} {route.category}{route.subclass}"
                f" from {route.origin}: put it in a receptacle for that series",
            )
        ]
    return []


def refuse_other_origin(
    ops: SiteOps, site: Site, destination: object, category: object, subclass: object
) -> None:
    """ValidationError (``transfer_to_site``) when another of our sites despatches the
    series ``site`` was asked to open a bag for: its items are transferred there."""
    series = (destination, category, subclass)
    elsewhere = sorted(
        {r.origin for r in ops.network.routes if (r.destination, r.category, r.subclass) == series}
    )
    if elsewhere and site.code not in elsewhere:
        raise ValidationError.single(
            "destination",
            "transfer_to_site",
            f"{destination}/{category}/{subclass}",
            f"{site.code} despatches no mail to {destination} {category}{subclass}: it leaves"
            f" from {' or '.join(elsewhere)}; transfer these items to {elsewhere[0]}"
            f" (POST /api/v1/sites/{site.code}/transfers)",
        )
