"""Several processes (hosts) on one batch run: start-up and the end-of-run barrier.

Every host runs the same command. With ``coordinator_address`` (``host:port`` of process 0),
``num_processes`` and ``process_id`` the processes join through
``jax.distributed.initialize``; on a Cloud TPU VM slice (``auto``) JAX finds all three itself.
Each process computes only on its own local devices (no collectives in the transfer); one
barrier before process 0 merges the summary. A run that should be several processes and cannot
join them (an unreachable coordinator, a timeout) stops with a :class:`DistributedError` before
anything is written: it never carries on as "process 0 of 1" writing every item.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import jax
from absl import logging


class DistributedError(RuntimeError):
  """A multi-process run that could not join its processes (one line; nothing was written)."""


# jax.distributed.initialize()'s message where it finds no cluster (a plain machine).
_NO_CLUSTER = "coordinator_address should be defined"


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
  process_id: int
  num_processes: int
  distributed: bool  # joined through jax.distributed (a barrier is available)


def initialize(*, coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool = False,
               timeout_s: int = 300) -> ProcessInfo:
  """Joins the run's processes; call before any other JAX call.

  Args:
    coordinator_address: ``host:port`` of process 0's coordination service.
    num_processes, process_id: this process's place (with ``coordinator_address``).
    auto: with no coordinator, try ``jax.distributed.initialize()`` (Cloud TPU VMs and
      other clusters JAX detects); where JAX finds no cluster the run is one process.
    timeout_s: how long to wait for the other processes to join.

  Returns:
    the :class:`ProcessInfo`.

  Raises:
    ValueError: an incomplete or inconsistent set of arguments.
    DistributedError: the processes could not be joined (never carried on as one process).
  """
  given = [coordinator_address is not None, num_processes is not None, process_id is not None]
  if coordinator_address is None and (num_processes or 1) > 1:
    raise ValueError("--num_processes > 1 needs --coordinator_address (host:port of process 0)")
  if coordinator_address is not None:
    if not all(given):
      raise ValueError("--coordinator_address needs --num_processes and --process_id")
    if not 0 <= process_id < num_processes:
      raise ValueError(f"--process_id must lie in [0, {num_processes}), got {process_id}")
    if process_id != 0:  # JAX aborts the process (no Python error) if it cannot connect
      _wait_for_coordinator(coordinator_address, timeout_s)
    _join(dict(coordinator_address=coordinator_address, num_processes=num_processes,
               process_id=process_id, initialization_timeout=int(timeout_s)),
          f"coordinator {coordinator_address}")
    return ProcessInfo(jax.process_index(), jax.process_count(), True)
  if process_id not in (None, 0):
    raise ValueError(f"--process_id={process_id} without --coordinator_address")
  if auto:
    try:
      jax.distributed.initialize(initialization_timeout=int(timeout_s))
    except ValueError as e:
      if _NO_CLUSTER not in str(e):
        raise DistributedError(f"jax.distributed.initialize() failed: {e}") from e
      logging.info("one process (no cluster found: %s)", e)
    except Exception as e:  # a cluster JAX knows, but joining it failed (e.g. a timeout)
      raise DistributedError(
          f"this host is part of a cluster but could not join it ({type(e).__name__}: "
          f"{str(e).splitlines()[0] if str(e) else ''}); nothing was run or written. "
          "Fix the coordinator, or pass --single_host to run this host alone on purpose") from e
    else:
      return ProcessInfo(jax.process_index(), jax.process_count(), True)
  return ProcessInfo(0, 1, False)


def _wait_for_coordinator(address: str, timeout_s: float) -> None:
  """Waits until ``host:port`` accepts a TCP connection; :class:`DistributedError` after
  ``timeout_s`` seconds. JAX's coordination client aborts the whole process with a C++ stack
  trace when it cannot connect, so reachability is checked first, in Python."""
  host, _, port = address.rpartition(":")
  if not host or not port.isdigit():
    raise ValueError(f"--coordinator_address must be host:port, got {address!r}")
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      with socket.create_connection((host.strip("[]"), int(port)), timeout=2.0):
        return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise DistributedError(f"the coordinator {address} is unreachable after {timeout_s:g} s "
                               f"({e}); nothing was run or written") from e
      time.sleep(1.0)


def _join(kwargs: dict, where: str) -> None:
  """``jax.distributed.initialize(**kwargs)``; a failure is a :class:`DistributedError`."""
  try:
    jax.distributed.initialize(**kwargs)
  except Exception as e:
    first = str(e).splitlines()[0] if str(e) else ""
    raise DistributedError(f"could not join the run's processes through {where} "
                           f"({type(e).__name__}: {first}); nothing was run or written") from e


def barrier(name: str, *, timeout_s: float) -> None:
  """Waits until every process reaches ``name``, through JAX's public
  ``multihost_utils.sync_global_devices`` (a tiny device collective).

  No private JAX API is used, so the wait is JAX's own: ``timeout_s`` is recorded for the
  log only (the coordination service's barrier with an explicit timeout has no public handle).
  """
  from jax.experimental import multihost_utils
  logging.info("barrier %s (up to JAX's collective timeout; asked for %.0f s)", name, timeout_s)
  multihost_utils.sync_global_devices(name)


def compilation_cache(path: str | None) -> None:
  """Keeps compiled programs in ``path`` (JAX's persistent cache), so a resumed or repeated
  run (after a preemption, on another host of the same slice) loads them instead of
  compiling again. ``None`` / ``""``: off."""
  if not path:
    return
  jax.config.update("jax_compilation_cache_dir", str(path))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
