"""The web toolkit shared by every feature's pages (templates, static files, sessions)."""
