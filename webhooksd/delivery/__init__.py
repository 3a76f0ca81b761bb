"""Delivery: Kazoo's request encoding, sending with timeouts and an SSRF guard, outcomes as
values, attempt records with Kazoo's field names, and durable retries."""
