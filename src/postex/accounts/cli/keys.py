"""Key management: rotate the key-encryption key."""

import typer

from postex.cli.common import (
    DbOpt,
    Group,
    HomeOpt,
    container,
    handle_errors,
    out,
    progress_bar,
)

app = typer.Typer(cls=Group, help="Key-encryption key and signing keys.", no_args_is_help=True)


@app.command("rotate")
@handle_errors
def rotate(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Re-wrap every customer data key under a new key-encryption key (events untouched).

    Example: postex keys rotate
    """
    from postex.accounts.app.keys import rotate_kek

    c = container(db, home)
    with progress_bar("re-wrapping data keys", None) as update:
        result = rotate_kek(c.ctx, c.kek, update)
    c.close()
    out.print(
        f"re-wrapped {result.rewrapped} data keys under {result.new_kek_id}; "
        f"retired {', '.join(result.retired) or 'nothing'}"
    )
