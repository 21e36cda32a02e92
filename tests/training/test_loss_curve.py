"""The manifest's loss curve: one fit's training loss and validation RMSE per epoch."""

from __future__ import annotations

import math

from training.writer import loss_curve


def test_the_selection_fit_is_the_curve_when_there_was_one() -> None:
    selection = {"loss": [0.9, 0.7, 0.65], "val_rmse": [1.1, 0.95, 0.97], "val_ndcg": [0.1] * 3}
    curve = loss_curve({"loss": [0.8, 0.6]}, selection)
    assert curve == {
        "fit": "selection",
        "validation": "val_rmse",
        "points": [
            {"epoch": 1, "loss": 0.9, "validation_loss": 1.1},
            {"epoch": 2, "loss": 0.7, "validation_loss": 0.95},
            {"epoch": 3, "loss": 0.65, "validation_loss": 0.97},
        ],
    }


def test_without_a_selection_fit_the_final_fit_has_no_validation() -> None:
    curve = loss_curve({"loss": [0.8, math.nan], "epoch_seconds": [1.0, 1.0]}, {})
    assert curve == {
        "fit": "final",
        "validation": None,
        "points": [
            {"epoch": 1, "loss": 0.8, "validation_loss": None},
            {"epoch": 2, "loss": None, "validation_loss": None},  # never NaN in the JSON
        ],
    }
