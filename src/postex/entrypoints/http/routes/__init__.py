"""Routers, one module per capability. ``ROUTERS`` is what the app mounts."""

from fastapi import APIRouter

from postex.entrypoints.http.routes import health, items, manifests, tracking
from postex.entrypoints.http.routes import advisories, audit, holds
from postex.entrypoints.http.routes import partner_resdit, site_despatches, sites
from postex.entrypoints.http.routes import partner, webhooks
from postex.entrypoints.http.routes import integrity
from postex.entrypoints.web import status as web_status
from postex.entrypoints.web import tracking_page

ROUTERS: list[APIRouter] = [health.router, tracking.router, items.router, manifests.router,
           sites.router, site_despatches.router, partner_resdit.router]  # fmt: skip
ROUTERS += [holds.router, advisories.router, audit.router, web_status.router]
ROUTERS += [partner.router, webhooks.router, tracking_page.router]
ROUTERS += [integrity.router]
