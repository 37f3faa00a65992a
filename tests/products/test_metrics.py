"""The one metrics module: confusion matrix to IoU, mIoU, precision, recall, F1, accuracy.

Hand-computed matrices, and the check that training's validation scores and
``glnet evaluate`` give the same numbers for one confusion matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

from glnet.glnet_core.formats.classes import NODATA
from glnet.glnet_core.products.evaluate import metrics_from_confusion as evaluate_metrics
from glnet.glnet_core.products.metrics import ClassScores, Metrics, confusion_matrix, metrics_from_confusion, scores_from_confusion

# rows = reference, columns = prediction
CM = np.array([[50, 2, 3, 0], [4, 30, 1, 5], [0, 0, 0, 0], [6, 0, 2, 10]])


def test_scores_by_hand():
    m = scores_from_confusion(CM, ["a", "b", "c", "d"], ignored=[])
    assert isinstance(m, Metrics) and isinstance(m.per_class[0], ClassScores)
    assert m.pixels_evaluated == 113
    assert m.overall_accuracy == pytest.approx(90 / 113)
    a = m.per_class[0]
    assert (a.ref_pixels, a.pred_pixels) == (55, 60)
    assert a.iou == pytest.approx(50 / (50 + 10 + 5))
    assert a.precision == pytest.approx(50 / 60) and a.recall == pytest.approx(50 / 55)
    assert a.f1 == pytest.approx(100 / (100 + 10 + 5))
    # c: predicted 6 times, never right, absent from the reference: IoU 0, recall undefined.
    c = m.per_class[2]
    assert c.iou == 0.0 and c.recall is None and c.precision == 0.0
    assert m.miou_classes == ("a", "b", "c", "d")
    assert m.miou == pytest.approx(np.mean([50 / 65, 30 / 42, 0.0, 10 / 23]))
    assert m.iou == [c.iou for c in m.per_class]


def test_ignored_reference_rows_are_left_out():
    m = scores_from_confusion(CM, ["a", "b", "c", "d"], ignored=[3])
    assert m.pixels_evaluated == 95
    assert m.per_class[3].ignored and m.per_class[3].iou is None and m.per_class[3].f1 is None
    # Predictions of "d" on counted rows are errors of those rows; d's own row is not counted.
    assert m.per_class[0].pred_pixels == 54 and m.per_class[1].recall == pytest.approx(30 / 40)
    assert m.overall_accuracy == pytest.approx(80 / 95)
    assert "d" not in m.miou_classes
    assert scores_from_confusion(np.zeros((2, 2), int)).miou is None
    assert scores_from_confusion(np.zeros((2, 2), int)).overall_accuracy is None


def test_the_dictionary_is_evaluates_report():
    d = metrics_from_confusion(CM, ["a", "b", "c", "d"], [3])
    assert list(d) == ["pixels_evaluated", "overall_accuracy", "miou", "miou_classes", "per_class"]
    assert list(d["per_class"][0]) == ["id", "name", "ignored", "ref_pixels", "pred_pixels", "iou", "precision", "recall", "f1"]
    assert d["miou_classes"] == ["a", "b", "c"]
    assert evaluate_metrics is metrics_from_confusion  # evaluate reports these very numbers


def test_confusion_matrix_counts_pairs_and_skips_nodata():
    ref = np.array([[0, 1, 1, 2], [2, 2, NODATA, 0]], np.uint8)
    pred = np.array([[1, 1, 0, 2], [2, NODATA, 1, 0]], np.uint8)
    cm = confusion_matrix(ref, pred, 3)
    assert cm.tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]
    assert confusion_matrix(ref, pred, 3, ignored=[0]).tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 2]]
    valid = (ref != NODATA) & (pred != NODATA)
    valid[0] = False  # a mask of the caller's: only these pixels count
    assert confusion_matrix(ref, pred, 3, valid=valid).sum() == 2


def test_training_and_evaluate_give_the_same_numbers():
    pytest.importorskip("torch")
    from glnet.models.training import Scores

    for ignored in ([], [3], [0, 2]):
        training = Scores.from_confusion(CM, ignored=ignored)
        evaluated = evaluate_metrics(CM, ["a", "b", "c", "d"], ignored)
        assert training.miou == evaluated["miou"]
        assert training.accuracy == evaluated["overall_accuracy"]
        assert training.iou == [c["iou"] for c in evaluated["per_class"]]
        np.testing.assert_array_equal(training.confusion, CM)
