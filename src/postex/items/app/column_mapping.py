"""A sender's column mapping: the headers of its own CSV export (a web shop's, say) for the
manifest's columns, saved once per account and applied to every upload that asks for it.

Headers are not personal data; the mapping is kept in its own table (like the portal's
users, not in the log) and every change is an audit event naming the columns mapped.
"""

from __future__ import annotations

from typing import Protocol

from postex.accounts.app.audit import audit_event
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.items.app.manifests import COLUMNS
from postex.kernel.errors import FieldError, ValidationError

MAX_HEADER = 100


class ColumnMappingRepository(Protocol):
    def get(self, customer_id: str) -> dict[str, str]:
        """The account's mapping (our column → their header); empty when none is saved."""
        ...

    def put(self, customer_id: str, mapping: dict[str, str], at: str) -> None: ...


def column_mapping(ctx: Context, customer_id: str) -> dict[str, str]:
    with ctx.store.read() as uow:
        return uow.repo(ColumnMappingRepository).get(customer_id)


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """The mapping without empty entries; ValidationError naming each bad one by our column."""
    clean = {k: v.strip() for k, v in mapping.items() if isinstance(v, str) and v.strip()}
    errors: list[FieldError] = []
    for ours, header in clean.items():
        if ours not in COLUMNS:
            errors.append(FieldError(ours, "unknown_field", ours, f"{ours!r} is not a column"))
        elif len(header) > MAX_HEADER:
            errors.append(FieldError(ours, "length", header[:20] + "…",
                                     f"a header of at most {MAX_HEADER} characters"))  # fmt: skip
    seen: dict[str, str] = {}
    for ours, header in clean.items():
        if header in seen:
            message = f"{header!r} is already mapped to {seen[header]}"
            errors.append(FieldError(ours, "duplicate_header", header, message))
        seen.setdefault(header, ours)
    if errors:
        raise ValidationError(errors)
    return clean


def save_column_mapping(
    ctx: Context, customer_id: str, mapping: dict[str, str], actor: dict[str, object]
) -> dict[str, str]:
    """Replace the account's mapping; returns what was saved."""
    clean = check_mapping(mapping)
    with ctx.store.write(ctx.site) as uow:
        uow.repo(ColumnMappingRepository).put(customer_id, clean, format_time(ctx.clock.now()))
        uow.append([audit_event(actor, "customer.column_mapping_saved", customer_id,
                                details={"columns": sorted(clean)})])  # fmt: skip
    return clean
