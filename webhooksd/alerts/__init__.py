"""Telling an account that one of its hooks was disabled by the server or delivers again.

Kazoo tells accounts through its notification service (``webhook_disabled`` on the bus, which
the disabler still publishes); for platforms without one an account may name e-mail
addresses (sent through the daemon's SMTP server) and an alert URL (a signed POST of an
:mod:`~webhooksd.alerts.events` operational event). The supervised child that sends them is
:mod:`webhooksd.children.alerts`.
"""
