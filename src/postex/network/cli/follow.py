"""``postex follow``: this node follows every other node's log (fan-out)."""

from postex.cli.common import DbOpt, HomeOpt, SiteOpt, handle_errors, out, start_logs
from postex.network.cli.replication import NatsOpt, PrefixOpt, node


@handle_errors
def follow(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: SiteOpt = None,
    nats: NatsOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Follow every other node's log until stopped: verify each message as the hub does,
    store the verified copy and apply it (pre-advice, cancellations, holds, data keys).

    Only nodes whose key this node trusts are followed (`postex replication trust --name
    GBLGWA --key …`). `postex serve` on a site already follows in the background; run this
    beside `postex serve --no-publish` and `postex replicate --no-follow` instead.

    Example: postex follow --site GBLGWA --nats nats://127.0.0.1:4222
    """
    from postex.bootstrap import replication
    from postex.network.cli.loops import run_until_signal

    c = node(db, home, site, "site", nats, prefix)
    start_logs(c.settings)
    follower = replication(c).follower(c.trusted_keys())
    out.print(f"{c.settings.site} following the network on {c.settings.nats_url} (Ctrl+C to stop)")
    run_until_signal(follower.run)
    c.close()
