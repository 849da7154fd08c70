"""NATS JetStream transport: the site's publisher and the hub's consumer."""
