"""``GET /api/v1/integrity`` (heads, checkpoints, replication lag, verification, alarms), the
public transparency-log routes (signed tree heads, inclusion and consistency proofs) and a
sender's receipt of an item."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as FastPath

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.bootstrap import Container, replication
from postex.eventlog.context import Context
from postex.eventlog.merkle import leaf_hash
from postex.eventlog.notes import parse
from postex.eventlog.sql.notes import SqlNotes
from postex.eventlog.sql.proofs import SqlProofs
from postex.http.deps import container, context
from postex.http.limits import public_rate_limit
from postex.items.http.customer import customer
from postex.items.http.items import ITEM_ID
from postex.items.http.schemas import problems
from postex.kernel.errors import NotFoundError
from postex.network.app.status import integrity_for
from postex.network.sql.receipts import certificate_receipt, receipt_for

router = APIRouter(tags=["integrity"])


@router.get(
    "/api/v1/integrity",
    summary="Log integrity and replication per site (ops, auditor, admin)",
)
def integrity(
    p: Principal = Depends(roles(Role.OPS, Role.AUDITOR, Role.ADMIN)),
    c: Container = Depends(container),
) -> Any:
    """Per site: head seq and hash, newest checkpoint and whether the hub countersigned it,
    replication lag (a site: head - acknowledged; the hub: site's reported head - copy),
    the last verification and every integrity alarm."""
    rep = replication(c)
    view: dict[str, Any] = integrity_for(
        p, c.store, rep.state, c.settings.role, c.settings.site, rep.now(), rep.waiting()
    )
    return view


# --- the transparency log: public, hashes only ------------------------------------------
MAX_SIZE = 2**62  # sizes and seqs fit a signed 64-bit column
SITE_CODE = FastPath(pattern=r"^[A-Z0-9]{2,16}$", description="site code", examples=["GBLALA"])


def _proofs(c: Container) -> SqlProofs:
    return SqlProofs(c._sql)


@router.get(
    "/api/v1/log/{site}/checkpoint",
    summary="The site's newest signed tree head (public)",
    description="A C2SP tlog-checkpoint signed note with the witness cosignatures it has. "
    "Hashes only: no personal data.",
    responses=problems(404, 422, 429),
    dependencies=[Depends(public_rate_limit)],
)
def log_checkpoint(site: str = SITE_CODE, c: Container = Depends(container)) -> dict[str, Any]:
    notes = SqlNotes(c.engine)
    latest = notes.latest(site)
    if latest is None:
        raise NotFoundError(f"no signed checkpoint of {site}")
    size, text = latest
    head, _ = parse(text)
    note = text + "".join(notes.cosignatures(site, size))
    return {"site": site, "origin": head.origin, "tree_size": size,
            "root": head.root.hex(), "note": note}  # fmt: skip


@router.get(
    "/api/v1/log/{site}/cosignatures",
    summary="Witness cosignatures this node holds for a tree size of a site (public)",
    description="C2SP tlog-cosignature lines over the site's tree head of `tree_size`; on "
    "the hub, its own. Append them to the site's signed note (a receipt's `checkpoint`).",
    responses=problems(422, 429),
    dependencies=[Depends(public_rate_limit)],
)
def log_cosignatures(
    site: str = SITE_CODE,
    tree_size: int = Query(..., ge=1, le=MAX_SIZE, examples=[1000]),
    c: Container = Depends(container),
) -> dict[str, Any]:
    lines = SqlNotes(c.engine).cosignatures(site, tree_size)
    return {"site": site, "tree_size": tree_size, "lines": lines}


@router.get(
    "/api/v1/log/{site}/proofs/inclusion",
    summary="Inclusion proof of one event in a tree size (public)",
    description="RFC 9162 inclusion proof of event `seq` (leaf `seq - 1`) in the site's tree "
    "of `tree_size` events. Hashes only.",
    responses=problems(422, 429),
    dependencies=[Depends(public_rate_limit)],
)
def log_inclusion(
    site: str = SITE_CODE,
    seq: int = Query(..., ge=1, le=MAX_SIZE, examples=[12]),
    tree_size: int = Query(..., ge=1, le=MAX_SIZE, examples=[1000]),
    c: Container = Depends(container),
) -> dict[str, Any]:
    digest, root, proof = _proofs(c).inclusion(site, seq, tree_size)
    return {"site": site, "seq": seq, "leaf_index": seq - 1, "tree_size": tree_size,
            "event_hash": digest.hex(), "leaf_hash": leaf_hash(digest).hex(),
            "root": root.hex(), "proof": [p.hex() for p in proof]}  # fmt: skip


@router.get(
    "/api/v1/log/{site}/proofs/consistency",
    summary="Consistency proof between two tree sizes (public)",
    description="RFC 9162 consistency proof that the tree of `to` events extends the tree "
    "of `from` events. Hashes only.",
    responses=problems(422, 429),
    dependencies=[Depends(public_rate_limit)],
)
def log_consistency(
    site: str = SITE_CODE,
    old: int = Query(..., ge=1, le=MAX_SIZE, alias="from", examples=[1000]),
    new: int = Query(..., ge=1, le=MAX_SIZE, alias="to", examples=[2000]),
    c: Container = Depends(container),
) -> dict[str, Any]:
    old_root, new_root, proof = _proofs(c).consistency(site, old, new)
    return {"site": site, "from": old, "to": new, "old_root": old_root.hex(),
            "new_root": new_root.hex(), "proof": [p.hex() for p in proof]}  # fmt: skip


@router.get(
    "/api/v1/items/{item_id}/receipt",
    summary="Receipt of an own item: proof of pre-advice and acceptance",
    description="The events' canonical bodies (personal data stays sealed), their inclusion "
    "proofs and the signed, witnessed checkpoint. Verify offline: docs/api.md, Receipts.",
    responses=problems(401, 403, 404, 422, 429),
)
def item_receipt(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    c: Container = Depends(container),
) -> dict[str, Any]:
    return receipt_for(c._sql, ctx, customer_id, item_id)


class PdfResponse(Response):
    media_type = "application/pdf"


@router.get(
    "/api/v1/items/{item_id}/certificate.pdf",
    response_class=PdfResponse,
    summary="Certificate of posting of an own item (PDF, with the receipt digest as QR code)",
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **problems(401, 403, 404, 409, 422, 429),
    },
)
def item_certificate(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    c: Container = Depends(container),
) -> PdfResponse:
    from postex.pdf.certificate import certificate_of, render_certificate

    receipt = certificate_receipt(c._sql, ctx, customer_id, item_id)
    pdf = render_certificate(certificate_of(receipt))
    disposition = f'inline; filename="certificate-{item_id}.pdf"'
    return PdfResponse(pdf, headers={"Content-Disposition": disposition})
