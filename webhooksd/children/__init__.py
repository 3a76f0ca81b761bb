"""Supervised children that are not listeners, one file each (as in Kazoo's
``applications/webhooks/src``): ``init``, ``disabler``, ``retention``, ``gauges``, ``api``.
The listeners are in :mod:`webhooksd.listeners`."""
