"""Peer implementations of the benchmarked workloads (TensorFlow, PyTorch) and machine facts.

These are benchmark helpers, never part of the library: ``specst_jax`` does not
import them. ``tensorflow-cpu`` and ``torch`` come with the ``bench`` extra only.
"""
