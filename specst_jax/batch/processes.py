"""Several processes (hosts) on one batch run: start-up and the end-of-run barrier.

Every host runs the same command. With ``coordinator_address`` (``host:port`` of process 0),
``num_processes`` and ``process_id`` the processes join through
``jax.distributed.initialize``; on a Cloud TPU VM slice (``auto``) JAX finds all three itself.
Each process computes only on its own local devices (no collectives in the transfer); the
coordination service is used only for the barrier before process 0 merges the summary.
"""

from __future__ import annotations

import dataclasses

import jax
from absl import logging


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
  process_id: int
  num_processes: int
  distributed: bool  # joined through jax.distributed (a barrier is available)


def initialize(*, coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool = False) -> ProcessInfo:
  """Joins the run's processes; call before any other JAX call.

  Args:
    coordinator_address: ``host:port`` of process 0's coordination service.
    num_processes, process_id: this process's place (with ``coordinator_address``).
    auto: with no coordinator, try ``jax.distributed.initialize()`` (Cloud TPU VMs and
      other clusters JAX detects); elsewhere the run is one process.

  Returns:
    the :class:`ProcessInfo`.

  Raises:
    ValueError: an incomplete or inconsistent set of arguments.
  """
  given = [coordinator_address is not None, num_processes is not None, process_id is not None]
  if coordinator_address is None and (num_processes or 1) > 1:
    raise ValueError("--num_processes > 1 needs --coordinator_address (host:port of process 0)")
  if coordinator_address is not None:
    if not all(given):
      raise ValueError("--coordinator_address needs --num_processes and --process_id")
    if not 0 <= process_id < num_processes:
      raise ValueError(f"--process_id must lie in [0, {num_processes}), got {process_id}")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    return ProcessInfo(jax.process_index(), jax.process_count(), True)
  if process_id not in (None, 0):
    raise ValueError(f"--process_id={process_id} without --coordinator_address")
  if auto:
    try:
      jax.distributed.initialize()
    except (ValueError, RuntimeError) as e:  # not on a cluster JAX knows
      logging.info("one process (jax.distributed.initialize(): %s)", e)
    else:
      return ProcessInfo(jax.process_index(), jax.process_count(), True)
  return ProcessInfo(0, 1, False)


def barrier(name: str, *, timeout_s: float) -> None:
  """Waits until every process reaches ``name`` (coordination service; no device collective).

  Processes finish their shares at different times (hours apart on a big, uneven run), so
  the wait has an explicit timeout rather than a device all-reduce's.
  """
  from jax._src import distributed  # the coordination-service client (no public handle)

  client = distributed.global_state.client
  if client is None:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)
    return
  client.wait_at_barrier(name, int(timeout_s * 1000))


def compilation_cache(path: str | None) -> None:
  """Keeps compiled programs in ``path`` (JAX's persistent cache), so a resumed or repeated
  run (after a preemption, on another host of the same slice) loads them instead of
  compiling again. ``None`` / ``""``: off."""
  if not path:
    return
  jax.config.update("jax_compilation_cache_dir", str(path))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
