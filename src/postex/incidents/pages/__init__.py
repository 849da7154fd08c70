"""Pages of incidents: the public ``/status`` page and the operations console's holds,
advisories and audit trail."""
