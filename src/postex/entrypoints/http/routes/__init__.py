"""Routers, one module per capability. ``ROUTERS`` is what the app mounts."""

from fastapi import APIRouter

from postex.entrypoints.http.routes import health, tracking

ROUTERS: list[APIRouter] = [health.router, tracking.router]
