"""webhooksd: Kazoo's webhooks application as a Python asyncio daemon.

Reading order for a newcomer: ``cli`` → ``app`` → ``supervisor``; then ``modules`` and
``webhooksd_hooks.skel``; then ``listeners.shared`` → ``dispatcher`` → ``delivery``; then
``store`` and ``api``.
"""

__version__ = "0.1.0"
