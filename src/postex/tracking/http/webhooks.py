"""Customer webhooks: subscribe, list, delete, read the delivery log, redeliver.

The secret is in the creation response only. Each delivery is a POST with the header
``Postex-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from postex.bootstrap import Container
from postex.http.deps import container
from postex.items.http.customer import customer as customer_id
from postex.items.http.schemas import problems
from postex.tracking.app import webhooks as wh

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
ERRORS = problems(401, 403, 404, 422, 429)  # 422: unknown query parameters, bad values


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, examples=["https://example.com/postex-hook"])
    statuses: list[str] | None = Field(
        None, description="Statuses to receive; null or absent for all.", examples=[["delivered"]]
    )
    advisories: bool = Field(False, description="Also receive service advisories.")


@router.post(
    "/webhooks",
    status_code=201,
    summary="Subscribe to your items' tracking events (the secret is shown once)",
    description="An erased customer account can no longer subscribe (403, rule "
    "customer_erased): the secret would be sealed under its destroyed data key.",
    responses=problems(401, 403, 413, 422, 429, 503, creating=True),
)
def create_webhook(
    body: WebhookIn,
    cid: str = Depends(customer_id),
    c: Container = Depends(container),
) -> dict[str, Any]:
    created = wh.subscribe(
        c.ctx, cid, body.url, body.statuses, body.advisories,
        allow_private=c.settings.webhook_allow_private,
    )  # fmt: skip
    return {**created.record.to_dict(), "secret": created.secret}


@router.get(
    "/webhooks",
    summary="Your webhook subscriptions",
    responses=problems(401, 403, 422, 429),
)
def list_webhooks(
    cid: str = Depends(customer_id), c: Container = Depends(container)
) -> dict[str, Any]:
    return {"webhooks": [s.to_dict() for s in wh.list_subscriptions(c.ctx, cid)]}


@router.get(
    "/webhooks/{webhook_id}",
    summary="One webhook subscription",
    responses=ERRORS,
)
def get_webhook(
    webhook_id: str, cid: str = Depends(customer_id), c: Container = Depends(container)
) -> dict[str, Any]:
    return wh.get_subscription(c.ctx, cid, webhook_id).to_dict()


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Unsubscribe",
    responses=ERRORS,
)
def delete_webhook(
    webhook_id: str, cid: str = Depends(customer_id), c: Container = Depends(container)
) -> Response:
    wh.unsubscribe(c.ctx, cid, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="Delivery log of a subscription, newest first",
    responses=ERRORS,
)
def list_deliveries(
    webhook_id: str,
    limit: int = Query(100, ge=1, le=1000),
    cid: str = Depends(customer_id),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = wh.deliveries(c.ctx, cid, webhook_id, limit)
    return {"deliveries": [d.to_dict() for d in rows]}


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    summary="One delivery and its attempts (time, HTTP status, coarse outcome)",
    responses=ERRORS,
)
def get_delivery(
    webhook_id: str,
    delivery_id: str,
    cid: str = Depends(customer_id),
    c: Container = Depends(container),
) -> dict[str, Any]:
    found, attempts = wh.delivery_history(c.ctx, cid, webhook_id, delivery_id)
    history = [a.to_dict() for a in attempts]
    return {**found.to_dict(), "attempt_count": found.attempts, "attempts": history}


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery again (a fresh budget of attempts)",
    responses=ERRORS,
)
def redeliver(
    webhook_id: str,
    delivery_id: str,
    cid: str = Depends(customer_id),
    c: Container = Depends(container),
) -> dict[str, Any]:
    return wh.redeliver(c.ctx, cid, webhook_id, delivery_id).to_dict()
