"""Old event versions stay readable: a log holding ``receptacle.items_added.v1`` replays as v2."""

from __future__ import annotations

from postex.bootstrap import CATALOGUE, Container
from postex.eventlog.events import NewEvent
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.events import ReceptacleItemsAdded
from tests.factories import SERIES, SITE, letters, staff


def test_a_v1_items_added_body_is_read_as_v2_with_each_weight() -> None:
    """The upcaster pairs v1's parallel lists into v2's items, keeping order and weights."""
    v1 = {"receptacle_id": "rcp_1", "site": SITE, "item_ids": ["A", "B"], "weights_g": [5, 7]}
    record = CATALOGUE.decode("receptacle.items_added.v1", v1)
    assert isinstance(record, ReceptacleItemsAdded)
    assert [(b.item_id, b.weight_g) for b in record.bagged()] == [("A", 5), ("B", 7)]
    assert CATALOGUE.current_type("receptacle.items_added.v1") == ReceptacleItemsAdded.TYPE


def test_a_log_written_with_v1_bags_projects_and_rebuilds_like_live(node: Container) -> None:
    """Items bagged by an old node (v1 events in the log) count in the bag live, after a
    rebuild the projections are identical, and the bag closes with their weight."""
    clerk = staff(node, "clerk")
    items = letters(node, 2, 0)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g + 3) for i in items])
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    old_body = {
        "receptacle_id": bag.id,
        "site": SITE,
        "item_ids": [i.id for i in items],
        "weights_g": [i.weight_g + 3 for i in items],
    }
    with node.ctx.store.write(SITE) as uow:
        uow.append([NewEvent("receptacle.items_added.v1", old_body)])
    content = sum(i.weight_g + 3 for i in items)
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
    gross = content + 400  # the bag itself
    closed = rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag.id, gross)
    assert (closed.record.item_count, closed.record.content_g) == (2, content)
    assert closed.record.gross_weight_g == gross
