"""Customer API: one PDF with the labels (and CN23s) of many own items.

Scoped like every customer route: an id that is not the caller's answers 404 exactly as a
missing one, and nothing is printed unless every id is printable.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from postex.eventlog.context import Context
from postex.http.deps import context
from postex.items.app.documents import MAX_BATCH, Documents, batch_labels
from postex.items.http.customer import customer, documents
from postex.items.http.items import PDF_OK, PdfResponse
from postex.items.http.schemas import _In, problems

router = APIRouter(prefix="/api/v1", tags=["items"])


class LabelsIn(_In):
    ids: list[str] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="S10 ids of own items, printed in this order (a repeated id once)",
        examples=[["LA100000003GB", "LA100000017GB"]],
    )


@router.post(
    "/labels",
    response_class=PdfResponse,
    summary="Labels of many items in one PDF (with their CN23s)",
    description="Every item's 4×6 inch label (with its CN22 when needed), then the A4 CN23 of "
    "each item that needs one. 404 (naming the id) for any id that is not an own item, 409 "
    "for a cancelled or erased item, 422 for a malformed id (field ids.N).",
    responses={**PDF_OK, **problems(401, 403, 404, 409, 422, 429)},
)
def labels_pdf(
    payload: LabelsIn,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    docs: Documents = Depends(documents),
) -> PdfResponse:
    pdf = batch_labels(ctx, docs, customer_id, payload.ids)
    return PdfResponse(pdf, headers={"Content-Disposition": 'inline; filename="labels.pdf"'})
