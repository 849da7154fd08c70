"""Entry points: HTTP API, web pages and CLI. They get their services from bootstrap."""
