"""PyTorch twin of the reference Ulyanov workload (eager autograd, scipy L-BFGS-B).

Written from the reference's description (see :mod:`experiments.peers.ulyanov_common`):
``conv1d`` over ``[1, bins, frames]`` with a ``[filters, bins, width]`` kernel (VALID, no
bias, ReLU), the explicit ``C x C`` Gram, scipy's L-BFGS-B on float64 copies, and
Griffin-Lim with ``torch.stft`` / ``torch.istft``.
"""

from __future__ import annotations

import numpy as np
import torch

from experiments.peers import ulyanov_common as common


class UlyanovTorch:
  """The loss and its gradient with torch autograd.

  Args:
    kernel: ``[width, bins, filters]`` float32.
    content, style: ``log1p`` magnitudes ``[frames, bins]``.
    alpha: content weight.
  """

  def __init__(self, kernel: np.ndarray, content: np.ndarray, style: np.ndarray,
               alpha: float = common.ALPHA):
    self.shape = content.shape
    self.alpha = alpha
    self.w = torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (2, 1, 0))))
    with torch.no_grad():
      self.c = self.net(torch.from_numpy(np.asarray(content, np.float32)))
      fs = self.net(torch.from_numpy(np.asarray(style, np.float32)))
      self.s = fs.T @ fs / style.shape[0]

  def net(self, x: torch.Tensor) -> torch.Tensor:
    """``[frames, bins]`` -> features ``[frames - width + 1, filters]``."""
    return torch.relu(torch.nn.functional.conv1d(x.T[None], self.w))[0].T

  def loss(self, x: torch.Tensor) -> torch.Tensor:
    f = self.net(x)
    g = f.T @ f / x.shape[0]
    return self.alpha * torch.sum((f - self.c) ** 2) + torch.sum((g - self.s) ** 2)

  def value_and_grad(self, x64: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and gradient at a float64 vector, as float64 (float32 inside)."""
    x = torch.tensor(np.asarray(x64, np.float32).reshape(self.shape), requires_grad=True)
    value = self.loss(x)
    value.backward()
    return float(value.detach()), x.grad.numpy().astype(np.float64).ravel()

  def close(self) -> None:
    """Nothing to release (eager torch); here so both twins share one interface."""


def griffin_lim(mag: np.ndarray, *, n_fft: int, hop_length: int, n_iter: int, length: int,
                seed: int = 0) -> np.ndarray:
  """Griffin-Lim with torch.stft / torch.istft: ``mag [bins, frames]``, random phase."""
  gen = torch.Generator().manual_seed(seed)
  window = torch.hann_window(n_fft)
  a = torch.from_numpy(np.asarray(mag, np.float32))
  p = 2 * np.pi * torch.rand(a.shape, generator=gen) - np.pi
  kw = dict(n_fft=n_fft, hop_length=hop_length, window=window)
  with torch.no_grad():
    for _ in range(n_iter):
      y = torch.istft(torch.polar(a, p), length=length, **kw)
      p = torch.angle(torch.stft(y, return_complex=True, **kw))
    y = torch.istft(torch.polar(a, p), length=length, **kw)
  return y.numpy()
