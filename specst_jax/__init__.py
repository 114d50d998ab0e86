"""specst-jax: audio spectrogram representations, phase reconstruction and style transfer in JAX.

Arrays are time-major: audio ``[..., samples]``, spectrograms ``[..., frames, bins]``.

Modules: ``spectral`` (stft/istft), ``scaling`` (dB, log1p), ``features`` (mel, MFCC, deltas,
centroid, log-frequency), ``representations`` (the one registry: magnitude -> network input and
back, STFT settings, display dB), ``audio`` (host I/O), ``phase`` (Griffin-Lim, PGHI, RTPGHI,
SPSI, RTISI-LA), ``models`` (Ulyanov, Wyse, VGG-19), ``style`` (Gram losses, optimisation, the
net registry and the transfer engine), ``measures`` (network-free Figure-1 measures),
``listener`` (the listener's check of every written audio file: SC of the audio as written,
edge clicks, clipping, DC, loudness, silence), ``listening`` (static listening pages),
``classifier`` / ``pretrained`` (the paper's classifier; imported on demand: they pull in
orbax and the data modules).

The audio -> audio call is :func:`stylize` (``specst_jax.style.transfer.stylize_audio``, the
command-line tool's defaults); ``run_style_transfer`` is the low-level compiled optimisation loop
over a spectrogram (params, targets and a features function in, the optimised array out).
"""

from specst_jax.audio import AudioError, load_audio, resample, save_audio
from specst_jax.features import (
    dct,
    deltas,
    hz_to_mel,
    logfreq_filterbank,
    logfreq_frequencies,
    logfreq_spectrogram,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
    mfcc,
    spectral_centroid,
    stack_deltas,
)
from specst_jax.phase import (
    griffin_lim,
    pghi,
    reconstruct,
    rtisi_la,
    rtpghi,
    rtpghi_init,
    rtpghi_step,
    spectral_convergence,
    spsi,
)
from specst_jax.representations import REPRESENTATIONS, Options, Stft, display_db
from specst_jax.scaling import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    expm1_magnitude,
    log1p_magnitude,
    power_to_db,
    unit_db,
    unit_db_to_amplitude,
)
from specst_jax.spectral import (
    fft_frequencies,
    frame,
    frames_to_time,
    get_window,
    istft,
    magnitude,
    num_frames,
    overlap_add,
    stft,
    window_sumsquare,
)
from specst_jax.style import (
    LossConfig,
    NetFeatures,
    StyleResult,
    content_loss,
    gram,
    initial_value,
    make_targets,
    run_style_transfer,
    style_loss,
    style_target,
)
from specst_jax.style.transfer import Stylized
from specst_jax.style.transfer import stylize_audio as stylize

__version__ = "0.1.0"
