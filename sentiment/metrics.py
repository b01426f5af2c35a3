"""Classification metrics for three-way sentiment, dependency-free.

Macro averages, because the data sets are imbalanced (SmSA is 58% positive) and a care team
needs the rare negative and neutral classes found as reliably as the common one. Macro-recall
is SemEval-2017's official measure; macro-F1 is XLM-T's and IndoNLU's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

__all__ = ["Scores", "confusion", "scores"]

N_CLASSES = 3


class Scores(TypedDict):
    n: int
    macro_f1: float
    macro_recall: float
    accuracy: float
    per_class_f1: list[float]
    confusion: list[list[int]]  # confusion[gold][pred], labels in LABELS order


def confusion(gold: Sequence[int], pred: Sequence[int], n_classes: int = N_CLASSES) -> list[list[int]]:
    """Counts of (gold, predicted) pairs; rows are gold labels."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for g, p in zip(gold, pred):
        matrix[g][p] += 1
    return matrix


def scores(gold: Sequence[int], pred: Sequence[int], n_classes: int = N_CLASSES) -> Scores:
    """Macro-F1, macro-recall and accuracy over the classes present in ``gold``.

    A class absent from the gold labels is left out of the macro averages (its recall is
    undefined), so a two-class test set is not punished for the third class.
    """
    matrix = confusion(gold, pred, n_classes)
    f1s, recalls, per_class = [], [], []
    for c in range(n_classes):
        tp = matrix[c][c]
        support = sum(matrix[c])
        predicted = sum(row[c] for row in matrix)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(f1)
        if support:
            f1s.append(f1)
            recalls.append(recall)
    n = len(gold)
    return Scores(
        n=n,
        macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
        macro_recall=sum(recalls) / len(recalls) if recalls else 0.0,
        accuracy=sum(matrix[c][c] for c in range(n_classes)) / n if n else 0.0,
        per_class_f1=per_class,
        confusion=matrix,
    )
