"""Style transfer on spectrograms: Gram losses and the optax optimisation loop."""

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
