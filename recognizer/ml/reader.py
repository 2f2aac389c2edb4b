"""Reading digits: a network's output turned into answers, for a whole batch at once. No Django.

Every caller that needs a digit from a network (the site's predictions, sample scoring, the benches) goes through
``read`` so that softmax, the best guess, rounding and the verdict are done one way. The verdict is defined here
and nowhere else; the page words it, it does not work it out.

- ``not_a_digit``: the detector says the drawing looks like no digit at all (a letter, a doodle, a scribble).
  ``digit`` is still the best guess, for whoever wants it.
- ``unsure``: a digit, but the network hesitates: its confidence is low, or the runner-up is a real contender.
- ``digit``: a digit, read with confidence.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

PROBABILITY_DECIMALS = 6
DIGIT, UNSURE, NOT_A_DIGIT = "digit", "unsure", "not_a_digit"
VERDICTS = (DIGIT, UNSURE, NOT_A_DIGIT)
NOT_A_DIGIT_FROM = 0.5    # the detector's score from which a drawing is no digit (its threshold is in its bias)
SURE_FROM = 0.75          # confidence below this is unsure: right about 3 times in 4 or less, once calibrated
RUNNER_UP_NAMED = 0.1     # a second digit this likely is named beside the answer ("could also be a 7")
RUNNER_UP_CONTENDER = 0.2  # ... and this likely makes the answer unsure (a flagged 1 that may be a 7)


@dataclass(frozen=True)
class Reading:
    digit: int                  # the best guess, whatever the verdict
    confidence: float           # its probability
    probabilities: list[float]  # all ten, rounded to PROBABILITY_DECIMALS
    verdict: str                # one of VERDICTS
    not_a_digit_score: float | None  # the detector's score in [0, 1]; None for a model saved without a detector
    runner_up: int | None       # the second most likely digit when it is at least RUNNER_UP_NAMED likely


def probabilities(network: nn.Module, batch: Tensor) -> Tensor:
    """(N, 1, 28, 28) normalised images -> (N, 10) class probabilities."""
    return outputs(network, batch)[0]


def outputs(network: nn.Module, batch: Tensor) -> tuple[Tensor, Tensor | None]:
    """(N, 1, 28, 28) normalised images -> (N, 10) class probabilities, and (N,) non-digit scores (None when the
    network has no detector)."""
    with torch.inference_mode():
        features = network.embed(batch.contiguous(memory_format=torch.channels_last))
        probs = torch.softmax(network.classifier(features), dim=1)
        if network.detector is None:
            return probs, None
        return probs, torch.sigmoid(network.detector(features)[:, 0])


def verdict_of(confidence: float, runner_up_probability: float, not_a_digit_score: float | None) -> str:
    if not_a_digit_score is not None and not_a_digit_score >= NOT_A_DIGIT_FROM:
        return NOT_A_DIGIT
    if confidence < SURE_FROM or runner_up_probability >= RUNNER_UP_CONTENDER:
        return UNSURE
    return DIGIT


def read(network: nn.Module, batch: Tensor) -> list[Reading]:
    """One Reading per image of the (N, 1, 28, 28) batch."""
    probs, scores = outputs(network, batch)
    readings = []
    for index, row in enumerate(probs.tolist()):
        ranked = sorted(range(len(row)), key=row.__getitem__, reverse=True)
        best, second = ranked[0], ranked[1]
        score = None if scores is None else round(float(scores[index]), PROBABILITY_DECIMALS)
        readings.append(Reading(
            digit=best, confidence=row[best], probabilities=[round(p, PROBABILITY_DECIMALS) for p in row],
            verdict=verdict_of(row[best], row[second], score), not_a_digit_score=score,
            runner_up=second if row[second] >= RUNNER_UP_NAMED else None,
        ))
    return readings
