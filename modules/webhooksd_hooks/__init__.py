"""The hook modules webhooksd ships, each registered through the ``webhooksd.hooks``
entry-point group exactly as a third party's would be (see ``skel`` for the template)."""
