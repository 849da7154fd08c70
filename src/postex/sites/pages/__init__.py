"""Console pages of sites: acceptance, bags, despatches, the held-items queue and
transfers between sites.

Every page calls the same app functions as the JSON API (``sites.app``); the templates
only show what those answer. Another site's page, bag or despatch is the same 404 as a
missing one; every POST checks the session's CSRF token (``changing``) before anything.
"""

from __future__ import annotations

from fastapi import APIRouter

from postex.sites.pages import accept, bags, despatches, failover, held, transfers

router = APIRouter(include_in_schema=False)
for _part in (accept, bags, despatches, failover, held, transfers):
    router.include_router(_part.router)
