"""Batch style transfer at scale: manifests, length buckets, process shares, resumable runs.

``manifest`` (CSV / JSONL rows -> :class:`Item`), ``buckets`` (crop / pad / loop to a few
lengths), ``shards`` (which process owns which item), ``store`` (item folders, done markers,
the merged summary), ``runner`` (one process's job), ``processes`` (multi-host start-up and
barrier), ``engine`` (the one adapter to the style-transfer engine). Host side; only
``engine`` computes with JAX.
"""

from specst_jax.batch.manifest import Item, ManifestError, read_manifest
from specst_jax.batch.runner import BucketResult, RunConfig, Stats, run

__all__ = ["BucketResult", "Item", "ManifestError", "RunConfig", "Stats", "read_manifest", "run"]
