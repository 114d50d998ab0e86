"""TensorFlow twin of the reference Ulyanov workload, in graph mode through ``tf.compat.v1``.

Written from the reference's description (Ulyanov & Lebedev's notebook, 2016): the 1-D
convolution is a ``conv2d`` over a ``[1, 1, frames, bins]`` image with a
``[1, width, bins, filters]`` kernel (VALID, no bias, ReLU); content features and the
style Gram are computed once with numpy as the notebook did; the loss is
``alpha * 2 * l2_loss(F - C) + 2 * l2_loss(F^T F / T - S)``; scipy's L-BFGS-B runs on
float64 copies of the float32 loss and gradient; Griffin-Lim is librosa's stft/istft in a loop.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from experiments.peers import ulyanov_common as common

tf1 = tf.compat.v1


class UlyanovTF:
  """The loss and its gradient in a TF1 graph and session.

  Args:
    kernel: ``[width, bins, filters]`` float32.
    content, style: ``log1p`` magnitudes ``[frames, bins]`` (equal bins).
    alpha: content weight.
  """

  def __init__(self, kernel: np.ndarray, content: np.ndarray, style: np.ndarray,
               alpha: float = common.ALPHA):
    self.shape = content.shape
    frames, n_bins = content.shape
    filters = kernel.shape[-1]
    self.graph = tf.Graph()
    with self.graph.as_default():
      k = tf1.constant(kernel[None].astype(np.float32), name="kernel")  # [1, W, B, F]
      inp = tf1.placeholder(tf.float32, (1, 1, None, n_bins), name="image")
      net = tf.nn.relu(tf1.nn.conv2d(inp, k, strides=[1, 1, 1, 1], padding="VALID"))
      self.sess = tf1.Session(graph=self.graph)
      content_features = self.sess.run(net, {inp: content[None, None]})
      style_features = self.sess.run(net, {inp: style[None, None]})
      feats_s = np.reshape(style_features, (-1, filters))
      style_gram = np.matmul(feats_s.T, feats_s) / style.shape[0]

      self.x = tf1.placeholder(tf.float32, (1, 1, frames, n_bins), name="x")
      out = tf.nn.relu(tf1.nn.conv2d(self.x, k, strides=[1, 1, 1, 1], padding="VALID"))
      content_loss = alpha * 2 * tf.nn.l2_loss(out - content_features)
      feats = tf.reshape(out, (-1, filters))
      gram = tf.matmul(tf.transpose(feats), feats) / frames
      style_loss = 2 * tf.nn.l2_loss(gram - style_gram)
      self.loss = content_loss + style_loss
      self.grad = tf1.gradients(self.loss, self.x)[0]
      self.graph.finalize()

  def value_and_grad(self, x64: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and gradient at a float64 vector, as float64 (the float32 graph inside)."""
    x = np.asarray(x64, np.float32).reshape((1, 1) + self.shape)
    f, g = self.sess.run([self.loss, self.grad], {self.x: x})
    return float(f), np.asarray(g, np.float64).ravel()

  def close(self) -> None:
    self.sess.close()


def griffin_lim(mag: np.ndarray, *, n_fft: int, hop_length: int, n_iter: int, length: int,
                seed: int = 0) -> np.ndarray:
  """The reference's Griffin-Lim: ``mag [bins, frames]``, random phase, librosa stft/istft."""
  import librosa

  rng = np.random.default_rng(seed)
  p = 2 * np.pi * rng.random(mag.shape) - np.pi
  y = None
  for _ in range(n_iter):
    spec = mag * np.exp(1j * p)
    y = librosa.istft(spec, hop_length=hop_length, n_fft=n_fft, length=length)
    p = np.angle(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
  return librosa.istft(mag * np.exp(1j * p), hop_length=hop_length, n_fft=n_fft, length=length)
