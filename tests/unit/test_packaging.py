"""The package metadata ships every subpackage (an editable install would hide a missing one
until the first production install)."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "webhooksd").rglob("__init__.py")
    }
    found.add("webhooksd_hooks")
    assert found <= listed, f"missing from setup.cfg [options] packages: {found - listed}"
    assert (ROOT / "modules" / "webhooksd_hooks" / "__init__.py").is_file()
