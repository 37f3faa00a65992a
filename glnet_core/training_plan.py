"""The training stages and their published epochs and learning rates: how ``--stage`` and ``--epochs`` plan a run.

Plain data, shared by the command line (:mod:`glnet_core.cli.train`), the
training code (:mod:`glnet.models.training.options`) and the QGIS algorithm
``glnet:train`` (its progress bar), which runs where torch and
``glnet.models`` are not installed.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

__all__ = ["STAGES", "STAGE_CHOICES", "PUBLISHED_EPOCHS", "PUBLISHED_LR", "planned_epochs"]

#: The three stages, in training order: global branch; global-to-local; local-to-global.
STAGES = ("global", "g2l", "l2g")
#: The values of ``--stage``: one stage, or all three in order.
STAGE_CHOICES = STAGES + ("all",)
#: Epochs per stage of the published recipe.
PUBLISHED_EPOCHS: Dict[str, int] = {"global": 120, "g2l": 50, "l2g": 120}
#: Base learning rate per stage of the published recipe.
PUBLISHED_LR: Dict[str, float] = {"global": 5e-5, "g2l": 2e-5, "l2g": 5e-5}


def planned_epochs(stage: str, epochs: Sequence[int]) -> List[Tuple[str, int]]:
    """The stages a run trains and the epochs of each, as ``glnet train --stage STAGE --epochs N[,N,N]`` plans them.

    Parameters
    ----------
    stage:
        ``all`` or one stage.
    epochs:
        One count for every stage, three for global, g2l and l2g, or none
        (:data:`PUBLISHED_EPOCHS`). Other combinations (three counts with one
        stage) are refused by the training options; here they plan the
        first count.

    Returns
    -------
    list of (stage, epochs)
    """
    stages = list(STAGES) if stage == "all" else [stage]
    if not epochs:
        return [(s, PUBLISHED_EPOCHS.get(s, 1)) for s in stages]
    if len(epochs) == len(STAGES) and stage == "all":
        return [(s, int(n)) for s, n in zip(stages, epochs)]
    return [(s, int(epochs[0])) for s in stages]
