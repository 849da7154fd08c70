"""Webhooks in the portal: add (secret shown once), delivery history, send again, delete."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.tracking.app.webhooks import deliveries, list_subscriptions
from tests.factories import SITE, new_items
from tests.portal.helpers import csrf_of, portal_sign_in, sender

SECRET = re.compile(r"<code>(whsec_[A-Za-z0-9_-]+)</code>")


def test_add_see_deliveries_send_again_and_delete(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    page = browser_client.get("/portal/webhooks")
    assert "No webhooks yet." in page.text
    csrf = csrf_of(page.text)
    bad = browser_client.post("/portal/webhooks", data={"csrf_token": csrf, "url": "ftp://x"})
    assert bad.status_code == 422 and "rule " in bad.text
    assert list_subscriptions(node.ctx, anna.customer_id) == []
    form = {"csrf_token": csrf, "url": "https://example.com/postex-hook"}
    made = browser_client.post("/portal/webhooks", data=form)
    assert made.status_code == 201
    assert SECRET.search(made.text) is not None
    assert SECRET.search(browser_client.get("/portal/webhooks").text) is None  # shown once
    [sub] = list_subscriptions(node.ctx, anna.customer_id)

    [item] = new_items(node, anna.customer_id)
    [sent] = deliveries(node.ctx, anna.customer_id, sub.id)
    detail = browser_client.get(f"/portal/webhooks/{sub.id}")
    assert item.id in detail.text and sent.id in detail.text
    history = browser_client.get(f"/portal/webhooks/{sub.id}/deliveries/{sent.id}")
    assert history.status_code == 200 and item.id in history.text
    again = browser_client.post(f"/portal/webhooks/{sub.id}/deliveries/{sent.id}/redeliver",
                                data={"csrf_token": csrf})  # fmt: skip
    assert again.status_code == 303
    assert "queued again" in browser_client.get(again.headers["location"]).text

    tested = browser_client.post(f"/portal/webhooks/{sub.id}/test", data={"csrf_token": csrf})
    assert tested.status_code == 303
    sent_now = deliveries(node.ctx, anna.customer_id, sub.id)
    assert sorted(d.event_type for d in sent_now) == ["item.tracking_event", "webhook.test"]
    test_body = next(d.payload for d in sent_now if d.event_type == "webhook.test")
    assert item.id not in test_body and "Thistle" not in test_body

    before = node.store.head(SITE)[0]
    forged = browser_client.post(f"/portal/webhooks/{sub.id}/delete", data={})
    assert forged.status_code == 403 and node.store.head(SITE)[0] == before
    gone = browser_client.post(f"/portal/webhooks/{sub.id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert [s.state for s in list_subscriptions(node.ctx, anna.customer_id)] in ([], ["deleted"])


def test_a_failed_attempt_shows_a_coarse_outcome_without_class_or_timing(
    node: Container, browser_client: TestClient
) -> None:
    """An attempt recorded with an exception class and a duration (an older log) is shown
    as ``failed: could not connect``: no class, no milliseconds (a port-scan oracle)."""
    from postex.eventlog.chain import format_time
    from postex.tracking.app.webhooks import subscribe
    from postex.tracking.events import WebhookDeliveryAttempted

    anna = sender(node, "Thistle & Thread Ltd", "anna")
    sub = subscribe(node.ctx, anna.customer_id, "https://example.com/hook").record
    new_items(node, anna.customer_id)
    [sent] = deliveries(node.ctx, anna.customer_id, sub.id)
    now = format_time(node.ctx.clock.now())
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([WebhookDeliveryAttempted(
            delivery_id=sent.id, subscription_id=sub.id, attempt=1, at=now, ok=False,
            status=None, error="ConnectTimeout", state="pending", next_attempt_at=now,
            duration_ms=10012,
        )])  # fmt: skip
    portal_sign_in(browser_client, "anna")
    for path in (f"/portal/webhooks/{sub.id}", f"/portal/webhooks/{sub.id}/deliveries/{sent.id}"):
        text = browser_client.get(path).text
        assert "failed: could not connect" in text
        assert "ConnectTimeout" not in text and "10012" not in text
