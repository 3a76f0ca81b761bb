"""The hook types and their sample payloads (Kazoo ``cb_webhooks`` ``GET /webhooks`` and
``/webhooks/samples[/{SAMPLE_ID}]``).

Both are public. Sample ids are the file names of ``webhooksd/data/samples/`` and only those
(a whitelist, so no path can leave the directory).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .envelope import Refusal, Reply, list_revision
from .paging import doc_filter, page_request
from .request import Call, public_fields
from .validation import HIDDEN_HOOK_IDS, SUPER_ONLY_NOTIFICATIONS

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"
_SUFFIX = "-samples.json"


def _datastore_fault() -> Refusal:
    return Refusal(503, "datastore_fault", {"message": "datastore fatal error"})


def _hide_super_only(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Non-master callers do not see ``system_alert``/``webhook_disabled`` notifications."""
    item = dict(meta)
    modifiers = item.get("modifiers")
    if not isinstance(modifiers, Mapping):
        return item
    shown: dict[str, Any] = {}
    for name, spec in modifiers.items():
        items = spec.get("items") if isinstance(spec, Mapping) else None
        if isinstance(items, Mapping):
            kept = {k: v for k, v in items.items() if k not in SUPER_ONLY_NOTIFICATIONS}
            spec = {**spec, "items": kept}
        shown[name] = spec
    item["modifiers"] = shown
    return item


async def list_available(call: Call) -> Reply:
    """``GET /v2/webhooks``: every hook type, by name descending (ICU-like, case-folded)."""
    metas = await call.deps.store.list_module_meta()
    is_master = call.identity is not None and call.identity.is_master
    items = []
    for module_id, meta in metas.items():
        if module_id in HIDDEN_HOOK_IDS:
            continue
        item = {**public_fields(meta), "id": module_id}
        items.append(item if is_master else _hide_super_only(item))
    request = page_request(call)
    keep = doc_filter(call)
    items = [i for i in items if keep(i)]
    items.sort(key=lambda i: str(i.get("name", i["id"])).casefold(), reverse=request.descending)
    if request.page_size is not None:
        items = items[: request.page_size]
    return Reply(data=items, page_size=request.page_size is not None, revision=list_revision(items))


def sample_ids(directory: Path | None = None) -> list[str]:
    directory = directory or SAMPLES_DIR
    if not directory.is_dir():
        return []
    return sorted(p.name.removesuffix(_SUFFIX) for p in directory.glob(f"webhooks_*{_SUFFIX}"))


def load_samples(sample_id: str, directory: Path | None = None) -> list[dict[str, Any]] | None:
    """The payloads of one whitelisted sample file, or None for an unknown id."""
    directory = directory or SAMPLES_DIR
    if sample_id not in sample_ids(directory):
        return None
    loaded = json.loads((directory / f"{sample_id}{_SUFFIX}").read_text(encoding="utf-8"))
    items = loaded if isinstance(loaded, list) else [loaded]
    return [public_fields(i) for i in items if isinstance(i, Mapping)]


async def list_samples(call: Call) -> Reply:
    """``GET /v2/webhooks/samples``: the sample names; 503 when none are installed."""
    ids = sample_ids()
    if not ids:
        raise _datastore_fault()
    return Reply(data=ids)


async def get_sample(call: Call) -> Reply:
    """``GET /v2/webhooks/samples/{SAMPLE_ID}``: the payloads, filtered by ``filter_*``."""
    sample_id = call.path["sample_id"]
    if not sample_ids():
        raise _datastore_fault()
    samples = load_samples(sample_id)
    if samples is None:
        raise Refusal(404, "bad identifier", [sample_id])
    keep = doc_filter(call)
    return Reply(data=[s for s in samples if keep(s)], page_size=True)
