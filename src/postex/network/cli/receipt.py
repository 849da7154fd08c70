"""``postex receipt verify``: check a sender's receipt offline."""

import base64
import binascii
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from postex.cli.common import EXIT_INTEGRITY, Group, HomeOpt, JsonOpt, emit_json, handle_errors, out
from postex.kernel.errors import ValidationError

app = typer.Typer(
    cls=Group, help="Receipts: proof of posting a sender can check.", no_args_is_help=True
)


def _key(value: str, option: str) -> bytes:
    """A raw 32-byte Ed25519 public key: base64 text, or a file holding it (``NAME.pub``)."""
    path = Path(value)
    text = path.read_text().strip() if len(value) < 400 and path.is_file() else value.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ValidationError.single(
            option, "ed25519_public_key", value[:60], "base64 of a 32-byte key, or a .pub file"
        )
    return raw


@app.command("verify")
@handle_errors
def verify(
    file: Annotated[str, typer.Argument(help="The receipt (JSON) to check.")],
    site_key: Annotated[
        str, typer.Option("--site-key", help="The site's public key: base64, or its .pub file.")
    ],
    witness_key: Annotated[
        str | None,
        typer.Option("--witness-key", help="The witness's (hub's) public key: base64 or file."),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a receipt without any server: each event's hash, its inclusion in the signed
    checkpoint's tree, the site's signature and (with --witness-key) a cosignature.
    Exit 0 if it holds, 1 if it does not, 2 for unreadable input.

    Example: postex receipt verify receipt.json --site-key GBLALA.pub --witness-key HUB.pub
    """
    from postex.network.app.receipts import check

    site_raw = _key(site_key, "site-key")
    witness_raw = _key(witness_key, "witness-key") if witness_key else None
    try:
        receipt: Any = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError.single("file", "receipt_json", file[:200], str(exc)[:200]) from None
    if not isinstance(receipt, dict):
        raise ValidationError.single("file", "receipt_json", file[:200], "a JSON object")
    verdict = check(receipt, site_raw, witness_raw)
    if as_json:
        emit_json({"ok": verdict.ok, "problems": verdict.problems, "facts": verdict.facts,
                   "digest": receipt.get("digest"), "item_id": receipt.get("item_id")})  # fmt: skip
    else:
        for label, facts in verdict.facts.items():
            out.print(f"{label:12} " + " ".join(f"{k}={v}" for k, v in facts.items()))
        for problem in verdict.problems:
            out.print(f"[red]FAIL[/red] {problem}")
        out.print("receipt holds" if verdict.ok else "[red]receipt does not hold[/red]")
    if not verdict.ok:
        raise typer.Exit(EXIT_INTEGRITY)
