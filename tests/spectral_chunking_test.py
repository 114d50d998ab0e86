"""The CPU batch-chunking path of spectral.stft / istft gives the same results as librosa.

Small clips never reach the chunk budget, so these tests shrink ``_CHUNK_BYTES``
to force ``lax.map`` with a batch size that does not divide the batch.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from specst_jax import spectral


@pytest.fixture
def tiny_chunks(monkeypatch):
  # One 3000-sample clip at n_fft=256, hop=64 has 47 frames * 256 * 4 bytes ~ 48 kB: chunks of 2.
  monkeypatch.setattr(spectral, "_CHUNK_BYTES", 100_000)


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("n_fft,hop", [(256, 64), (200, 80)])
def test_chunked_batch_matches_librosa(tiny_chunks, jit, n_fft, hop):
  x = np.random.default_rng(0).standard_normal((5, 3000)).astype(np.float32)
  stft = partial(spectral.stft, n_fft=n_fft, hop_length=hop)
  istft = partial(spectral.istft, n_fft=n_fft, hop_length=hop, length=3000)
  if jit:
    stft, istft = jax.jit(stft), jax.jit(istft)
  X = np.asarray(stft(x))
  # The mapped path really ran (lax.map lowers to a scan).
  assert "scan" in str(jax.make_jaxpr(partial(spectral.stft, n_fft=n_fft, hop_length=hop))(x))
  ref = np.swapaxes(librosa.stft(x, n_fft=n_fft, hop_length=hop), -1, -2)
  assert X.shape == ref.shape == (5, 1 + 3000 // hop, n_fft // 2 + 1)
  np.testing.assert_allclose(X, ref, atol=1e-5 * np.abs(ref).max())
  y = np.asarray(istft(X))
  y_ref = librosa.istft(np.swapaxes(X, -1, -2), n_fft=n_fft, hop_length=hop, length=3000)
  np.testing.assert_allclose(y, y_ref, atol=1e-5)
  np.testing.assert_allclose(y, x, atol=1e-5)


def test_chunked_equals_vectorised_and_grads(tiny_chunks, monkeypatch):
  x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 3000)).astype(np.float32))

  def loss(signal):
    X = spectral.stft(signal, n_fft=256, hop_length=64)
    return jnp.sum(jnp.log(spectral.magnitude(X) + 1e-3))

  chunked, g_chunked = jax.jit(jax.value_and_grad(loss))(x)
  monkeypatch.setattr(spectral, "_CHUNK_BYTES", 1 << 40)  # one vectorised call
  whole, g_whole = jax.jit(jax.value_and_grad(loss))(x)
  np.testing.assert_allclose(chunked, whole, rtol=1e-6)
  np.testing.assert_allclose(g_chunked, g_whole, rtol=1e-5, atol=1e-6)
  assert np.all(np.isfinite(g_chunked))


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("shape", [(20000,), (2, 20000)])
def test_long_audio_in_time_chunks_matches_librosa(tiny_chunks, jit, shape):
  # 20000 samples at hop 64: 313 frames, over twice the 97-frame chunk, so it is framed in
  # time chunks (the last one shifted back to end at the last frame).
  x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
  stft = partial(spectral.stft, n_fft=256, hop_length=64)
  assert "scan" in str(jax.make_jaxpr(stft)(x[..., :20000]))
  X = np.asarray((jax.jit(stft) if jit else stft)(x))
  ref = np.swapaxes(librosa.stft(x, n_fft=256, hop_length=64), -1, -2)
  assert X.shape == ref.shape == (*shape[:-1], 313, 129)
  np.testing.assert_allclose(X, ref, atol=1e-5 * np.abs(ref).max())


def test_long_audio_gradient_matches_unchunked(tiny_chunks, monkeypatch):
  x = jnp.asarray(np.random.default_rng(3).standard_normal(20000).astype(np.float32))

  def loss(signal):
    return jnp.sum(jnp.log(spectral.magnitude(spectral.stft(signal, n_fft=256, hop_length=64))
                           + 1e-3))

  g_chunked = jax.jit(jax.grad(loss))(x)
  monkeypatch.setattr(spectral, "_CHUNK_BYTES", 1 << 40)
  g_whole = jax.jit(jax.grad(loss))(x)
  np.testing.assert_allclose(g_chunked, g_whole, rtol=1e-5, atol=1e-5)
