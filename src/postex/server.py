"""The FastAPI application: every feature's routers and pages, mounted on one app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from postex import __version__, logs
from postex.accounts import pages as account_pages
from postex.bootstrap import Chore, Container, chores
from postex.http import answers, health, metrics, observe, problems, tracing
from postex.http.limits import BodySizeLimit, public_limiter
from postex.http.query import strict_query
from postex.incidents.http import advisories, audit, holds
from postex.incidents.pages import advisories as advisory_pages
from postex.incidents.pages import audit as audit_pages
from postex.incidents.pages import holds as hold_pages
from postex.incidents.pages import status as web_status
from postex.items import pages as portal_pages
from postex.items.http import items, labels, manifests
from postex.items.http.schemas import declare_everywhere
from postex.kernel.errors import IntegrityError
from postex.network import http as integrity
from postex.network import pages as network_pages
from postex.network import portal_pages as portal_receipts
from postex.sites import pages as site_pages
from postex.sites.http import despatches as site_despatches
from postex.sites.http import failover as site_failover
from postex.sites.http import sites
from postex.sites.http import transfers as site_transfers
from postex.tracking import pages as tracking_page
from postex.tracking import portal_pages as portal_webhooks
from postex.tracking.http import partner, tracking, webhooks
from postex.tracking.http import resdit as partner_resdit
from postex.web import api_docs
from postex.web import assets as web_assets

chore_log = logging.getLogger("postex.chores")
ROUTERS: list[APIRouter] = [
    health.router,
    metrics.router,
    tracking.router,
    items.router,
    manifests.router,
    labels.router,
    sites.router,
    site_despatches.router,
    site_transfers.router,
    site_failover.router,
    partner_resdit.router,
    holds.router,
    advisories.router,
    audit.router,
    web_status.router,
    partner.router,
    webhooks.router,
    tracking_page.router,
    integrity.router,
    web_assets.router,
    api_docs.router,
    account_pages.router,
    site_pages.router,
    hold_pages.router,
    advisory_pages.router,
    audit_pages.router,
    network_pages.router,
    portal_pages.router,
    portal_webhooks.router,
    portal_receipts.router,
]
# Public answers kept per process while the database is unchanged (http.answers).
ANSWER_CACHE_PREFIXES = ("/api/v1/tracking/", "/track/")
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
MAX_BODY_BYTES = 32 * 1024 * 1024  # a 10,000-item manifest as JSON fits with room to spare


async def run_chores(todo: Sequence[Chore], interval: float) -> None:
    """Run the chores round after round until cancelled, each on a worker thread; a failing
    chore is logged, not fatal (the store may be briefly unavailable), and the loop sleeps
    ``interval`` only after a round in which nothing was due."""
    while True:
        done = 0
        for chore in todo:
            try:
                done += await asyncio.to_thread(chore.run)
            except Exception as exc:  # its message may quote stored data: never logged
                chore_log.error("%s round failed: %s", chore.name, problems.where(exc))
        if not done:
            await asyncio.sleep(interval)


def create_app(container: Container) -> FastAPI:
    settings = container.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def checkpoint() -> None:
            try:
                await asyncio.to_thread(container.admin.checkpoint_now, settings.site)
            except IntegrityError as exc:  # events past the authenticated head: never signed
                chore_log.error("checkpoint refused at seq %s: %s", exc.seq, exc.detail)

        async def checkpoint_timer() -> None:
            while True:
                await asyncio.sleep(settings.checkpoint_seconds)
                await checkpoint()

        tasks = [asyncio.create_task(checkpoint_timer())]
        if settings.webhook_worker_seconds > 0:  # 0: `postex worker` runs the chores instead
            chores_task = run_chores(chores(container), float(settings.webhook_worker_seconds))
            tasks.append(asyncio.create_task(chores_task))
        try:
            yield
        finally:
            for task in reversed(tasks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            try:
                await checkpoint()
            finally:
                logs.flush()  # the request lines still buffered (postex.logs.request)
                flush_metrics = getattr(_app.state, "flush_request_metrics", None)
                if flush_metrics is not None:  # the counts waiting (postex.http.observe)
                    flush_metrics()

    app = FastAPI(
        title="Postex",
        version=__version__,
        summary="Back office for international export mail: pre-advice, despatch, tracking.",
        lifespan=lifespan,
        docs_url=None,  # served by web.api_docs with the node's own assets
        redoc_url=None,
        # FastAPI's own OpenTelemetry asks for the global providers on every request (µs on
        # the hot path); tracing, when wanted, is installed by http.tracing.
        telemetry=None if tracing.wanted() else NO_TELEMETRY,
    )
    app.state.container = container
    # Innermost of ours: cached public answers still pass the crash guard, the request
    # log, the metrics and the rate limit (http.answers).
    app.add_middleware(
        answers.AnswerCache,
        prefixes=ANSWER_CACHE_PREFIXES,
        generation=answers.generation_for(container.engine) if settings.answer_cache else None,
        limiter=public_limiter,
    )
    problems.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    # Outermost: the request id, log line and metrics cover every answer, refusals included.
    app.add_middleware(
        observe.Observe, with_metrics=settings.metrics, with_log=settings.request_log
    )
    if settings.metrics:
        container.observe_writes(metrics.StoreMetrics())
        metrics.watch_pool(container.engine)
    tracing.install(app, container.engine)  # only with OTEL_EXPORTER_OTLP_ENDPOINT set
    for router in ROUTERS:
        # Every API route refuses query parameters it does not define (http.query).
        api = any(getattr(r, "path", "").startswith("/api/") for r in router.routes)
        strict = [Depends(strict_query)] if api else []
        app.include_router(router, dependencies=strict)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # The body limit is middleware: any operation can answer 413 (BodySizeLimit).
        if app.openapi_schema is None:
            app.openapi_schema = declare_everywhere(generate(), 413)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """One worker process of ``postex serve --workers N``: its own node, built from the
    POSTEX_* variables the command set (cli.node.worker_environment), with its own logs."""
    from postex import logs
    from postex.bootstrap import build
    from postex.config import load_settings

    settings = load_settings()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(build(settings, claim=True))
