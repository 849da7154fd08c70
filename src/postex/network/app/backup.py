"""Backups: a signed manifest, compressed log segments, checkpoints and wrapped data keys.

The key-encryption key is never written: a backup's personal data stays sealed.
:func:`verify_backup` checks a backup without restoring it: the manifest's signature by
a trusted site key, every segment's SHA-256, every event's link and hash, and every
checkpoint against the events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from postex.eventlog.chain import ChainFault
from postex.eventlog.events import StoredEvent
from postex.eventlog.ports import Progress
from postex.eventlog.verify import SiteReport, verify_site
from postex.network.app.restore import RestoreSource


class BackupReader(RestoreSource, Protocol):
    """A backup directory opened for reading; segment digests are checked as they are read."""

    def sites(self) -> list[str]: ...

    def check_manifest(self, trusted: Mapping[str, bytes]) -> None:
        """Raise IntegrityError unless the manifest is signed by a trusted key."""
        ...


class BackupWriter(Protocol):
    def write(
        self, directory: Path, progress: Progress | None = None, since: Path | None = None
    ) -> dict[str, int]:
        """Write every site's log; return the head seq backed up per site.

        With ``since`` (an earlier backup, full or incremental) only the events after its
        heads are written, after checking the log still continues it.
        """
        ...


def _flat(
    batches: Iterator[Sequence[StoredEvent]], progress: Progress | None, start: int
) -> Iterator[StoredEvent]:
    done = start
    for batch in batches:
        yield from batch
        done += len(batch)
        if progress:
            progress(done)


def verify_backup(
    reader: BackupReader, trusted: Mapping[str, bytes], progress: Progress | None = None
) -> list[SiteReport]:
    """Check the whole backup; IntegrityError for a bad manifest or segment file."""
    reader.check_manifest(trusted)
    reports = []
    done = 0
    for site in reader.sites():
        events = _flat(reader.batches(site), progress, done)
        # bound to the site inside: only the site's own keys sign its checkpoints
        report = verify_site(site, events, reader.checkpoints(site), trusted)
        done += report.events_checked
        if report.ok and report.head_seq != reader.head(site):
            report.faults.append(
                ChainFault(
                    site, report.head_seq + 1, f"manifest says the log ends at {reader.head(site)}"
                )
            )
        reports.append(report)
    return reports
