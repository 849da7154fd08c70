"""``postex drill ransomware``: destroy a site's store under traffic and bring it back."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from postex.cli.common import Group, emit_json, handle_errors, out
from postex.config import load_settings
from postex.kernel.errors import ValidationError

app = typer.Typer(cls=Group, help="Recovery drills on one machine.", no_args_is_help=True)


@app.command("ransomware")
@handle_errors
def ransomware(
    nats: Annotated[str | None, typer.Option("--nats", help="NATS URL with JetStream.")] = None,
    hub_db: Annotated[
        str | None, typer.Option("--hub-db", help="Hub database (default: a SQLite file).")
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="Traffic before the attack.")] = 5,
    offline: Annotated[
        int, typer.Option("--offline-events", help="Events written with the link down (RPO).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed-events", help="Seed the site's log first.")] = 0,
    workdir: Annotated[
        str | None, typer.Option("--dir", help="Keep the drill's files here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the ransomware story end to end and print the RTO and the RPO.

    Example: postex drill ransomware --nats nats://127.0.0.1:4222 --seconds 5
    """
    from postex.network.cli.ransomware import run_drill

    url = nats or load_settings().nats_url or os.environ.get("POSTEX_TEST_NATS_URL", "")
    if not url:
        raise ValidationError.single("nats", "required", "", "give --nats URL")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="postex-drill-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run_drill(work, url, hub_db, seconds, offline, seed)
    finally:
        if not workdir:
            shutil.rmtree(work, ignore_errors=True)
    if as_json:
        emit_json({**result.__dict__, "rpo_events": result.rpo_events, "ok": result.ok})
        if not result.ok:
            raise typer.Exit(1)
        return
    out.print(f"site head when destroyed   {result.site_head_at_destruction} events")
    out.print(f"held by the hub            {result.replicated_at_destruction} events")
    out.print(f"RPO                        {result.rpo_events} events not replicated")
    out.print(f"restore                    {result.restored_events} events in "
              f"{result.restore_seconds:.2f} s")  # fmt: skip
    out.print(f"RTO                        {result.rto_seconds:.2f} s to the first accepted item")
    out.print(f"site verifies              {'yes' if result.verified else 'NO'}")
    out.print(f"hub verifies, converged    {'yes' if result.hub_verified else 'NO'}")
    if not result.ok:
        raise typer.Exit(1)
