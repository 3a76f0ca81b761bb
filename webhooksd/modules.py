"""An older import path that plugins use; the plugin API is :mod:`webhooksd.hooks`.

Kept so that such plugins load unchanged: the public names of :mod:`webhooksd.hooks.contract`.
"""

from webhooksd.hooks.contract import *  # noqa: F403
