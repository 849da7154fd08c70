"""HTML pages for people: public tracking and the status page."""
