"""Style transfer on spectrograms.

``losses`` (Gram / content / range losses) and ``optimize`` (the compiled L-BFGS / Adam loop) are
re-exported here; ``nets`` (the one registry of networks, :data:`nets.NETS`) and ``transfer``
(the audio -> audio engine, single and batched) are imported as modules:
``from specst_jax.style import nets, transfer``; ``output_files`` writes the style_transfer
tool's audio, figure and listening page.
"""

from specst_jax.style.losses import (
    NORMALIZATIONS,
    StyleTarget,
    content_loss,
    flatten_positions,
    gram,
    gram_loss_direct,
    gram_scale,
    range_penalty,
    style_loss,
    style_target,
)
from specst_jax.style.optimize import (
    LossConfig,
    NetFeatures,
    StyleResult,
    Targets,
    initial_value,
    loss_terms,
    make_targets,
    run_style_transfer,
)

__all__ = [
    "NORMALIZATIONS",
    "StyleTarget",
    "content_loss",
    "flatten_positions",
    "gram",
    "gram_loss_direct",
    "gram_scale",
    "range_penalty",
    "style_loss",
    "style_target",
    "LossConfig",
    "NetFeatures",
    "StyleResult",
    "Targets",
    "initial_value",
    "loss_terms",
    "make_targets",
    "run_style_transfer",
]
