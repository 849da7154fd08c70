"""Sender portal: the account's webhooks — add one (its signing secret shown once), the
delivery history of each, redeliver a delivery, delete a subscription.

Every page calls ``tracking.app.webhooks`` with the portal session's customer, the same
use cases as ``/api/v1/webhooks``: another account's subscription or delivery is the same
404 page as a missing one. (These pages live in tracking, the feature that owns webhooks;
the portal's shell is ``web.portal``.)
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.sessions import Session
from postex.kernel.errors import ValidationError
from postex.tracking.app import webhooks as wh
from postex.web.console import container
from postex.web.portal import PATH, changing, customer_of, guarded, page, session_of

router = APIRouter(prefix=PATH, include_in_schema=False)


def _list(
    request: Request, session: Session, status: int = 200, secret: str = "", error: str = "",
    url: str = "",
) -> Response:  # fmt: skip
    subs = wh.list_subscriptions(container(request).ctx, customer_of(session))
    return page(request, "tracking/webhooks.html", session, status, subs=subs, secret=secret,
                error=error, url=url)  # fmt: skip


@router.get("/webhooks")
def webhooks_page(request: Request) -> Response:
    return guarded(request, lambda: _list(request, session_of(request)))


@router.post("/webhooks")
def add(
    request: Request,
    csrf_token: str = Form(""),
    url: str = Form("", max_length=2000),
    advisories: str = Form(""),
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        c = container(request)
        try:
            made = wh.subscribe(c.ctx, customer_of(session), url.strip(), None,
                                advisories == "on",
                                allow_private=c.settings.webhook_allow_private)  # fmt: skip
        except ValidationError as exc:
            message = "; ".join(f"{e.message} (rule {e.rule})" for e in exc.errors)
            return _list(request, session, 422, error=message, url=url)
        return _list(request, session, 201, secret=made.secret)

    return guarded(request, answer)


@router.get("/webhooks/{webhook_id}")
def webhook_page(request: Request, webhook_id: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ctx, customer_id = container(request).ctx, customer_of(session)
        sub = wh.get_subscription(ctx, customer_id, webhook_id)
        sent = wh.deliveries(ctx, customer_id, webhook_id, 100)
        return page(request, "tracking/webhook.html", session, sub=sub, deliveries=sent,
                    notice=request.query_params.get("notice", "")[:80])  # fmt: skip

    return guarded(request, answer)


@router.post("/webhooks/{webhook_id}/test")
def send_test_event(request: Request, webhook_id: str, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        wh.send_test(container(request).ctx, customer_of(session), webhook_id)
        where = f"/portal/webhooks/{webhook_id}?notice=Test+event+queued"
        return RedirectResponse(where, status_code=303)

    return guarded(request, answer)


@router.post("/webhooks/{webhook_id}/delete")
def delete(request: Request, webhook_id: str, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        wh.unsubscribe(container(request).ctx, customer_of(session), webhook_id)
        return RedirectResponse("/portal/webhooks", status_code=303)

    return guarded(request, answer)


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}")
def delivery_page(request: Request, webhook_id: str, delivery_id: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        found, attempts = wh.delivery_history(container(request).ctx, customer_of(session),
                                              webhook_id, delivery_id)  # fmt: skip
        return page(request, "tracking/delivery.html", session, delivery=found,
                    attempts=attempts)  # fmt: skip

    return guarded(request, answer)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request, webhook_id: str, delivery_id: str, csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        wh.redeliver(container(request).ctx, customer_of(session), webhook_id, delivery_id)
        where = f"/portal/webhooks/{webhook_id}?notice=Delivery+{delivery_id}+queued+again"
        return RedirectResponse(where, status_code=303)

    return guarded(request, answer)
