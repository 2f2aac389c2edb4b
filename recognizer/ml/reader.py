"""Reading digits: a network's output turned into answers, for a whole batch at once. No Django.

Every caller that needs a digit from a network (the site's predictions, sample scoring, the benches) goes through
``read`` so that softmax, the best guess and rounding are done one way.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

PROBABILITY_DECIMALS = 6


@dataclass(frozen=True)
class Reading:
    digit: int                  # the best guess
    confidence: float           # its probability
    probabilities: list[float]  # all ten, rounded to PROBABILITY_DECIMALS


def probabilities(network: nn.Module, batch: Tensor) -> Tensor:
    """(N, 1, 28, 28) normalised images -> (N, 10) class probabilities."""
    with torch.inference_mode():
        return torch.softmax(network(batch.contiguous(memory_format=torch.channels_last)), dim=1)


def read(network: nn.Module, batch: Tensor) -> list[Reading]:
    """One Reading per image of the (N, 1, 28, 28) batch."""
    readings = []
    for row in probabilities(network, batch).tolist():
        best = max(range(len(row)), key=row.__getitem__)
        readings.append(Reading(digit=best, confidence=row[best],
                                probabilities=[round(p, PROBABILITY_DECIMALS) for p in row]))
    return readings
