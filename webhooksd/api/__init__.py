"""The Crossbar-compatible REST API (Kazoo ``crossbar`` + ``cb_webhooks``), the UI's static
files, ``/metrics`` and the health checks."""

from webhooksd.api.app import create_app
from webhooksd.api.deps import ApiDeps, HookTester

__all__ = ["ApiDeps", "HookTester", "create_app"]
