"""Liveness and readiness for the infrastructure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from postex.bootstrap import Container
from postex.http.deps import container

router = APIRouter(tags=["infra"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store answers and keys are loaded")
def readyz(c: Container = Depends(container)) -> Any:
    try:
        seq, _ = c.store.head(c.settings.site)
    except Exception:  # any store failure means not ready; details go to the log only
        return JSONResponse({"status": "unavailable", "store": "down"}, status_code=503)
    return {"status": "ready", "site": c.settings.site, "role": c.settings.role, "head_seq": seq}
