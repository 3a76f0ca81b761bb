"""End-to-end benchmarks of webhooksd against a bare relay (``make bench``)."""
