"""Routers, one module per capability. ``ROUTERS`` is what the app mounts."""

from fastapi import APIRouter

from postex.entrypoints.http.routes import (
    advisories,
    audit,
    health,
    holds,
    integrity,
    items,
    manifests,
    partner,
    partner_resdit,
    site_despatches,
    sites,
    tracking,
    webhooks,
)
from postex.entrypoints.web import status as web_status
from postex.entrypoints.web import tracking_page

ROUTERS: list[APIRouter] = [
    health.router,
    tracking.router,
    items.router,
    manifests.router,
    sites.router,
    site_despatches.router,
    partner_resdit.router,
    holds.router,
    advisories.router,
    audit.router,
    web_status.router,
    partner.router,
    webhooks.router,
    tracking_page.router,
    integrity.router,
]
