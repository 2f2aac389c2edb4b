"""The one place a network's output becomes an answer: the best guess, the runner-up and the verdict."""

import pytest
import torch
from torch import nn

from recognizer.ml.checkpoints import load_checkpoint, save_checkpoint
from recognizer.ml.network import DigitNet, for_serving
from recognizer.ml.reader import (
    DIGIT, NOT_A_DIGIT, NOT_A_DIGIT_FROM, RUNNER_UP_CONTENDER, RUNNER_UP_NAMED, SURE_FROM, UNSURE, read, verdict_of,
)


class FixedOutputs(nn.Module):
    """A stand-in network whose classifier and detector answer what the test says, whatever the image."""

    def __init__(self, probabilities: list[float], detector_logit: float | None) -> None:
        super().__init__()
        logits = torch.log(torch.tensor(probabilities).clamp(min=1e-12))
        self.classifier = lambda features: logits.expand(len(features), -1)
        self.detector = None if detector_logit is None else (
            lambda features: torch.full((len(features), 1), detector_logit))

    def embed(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.flatten(1)


def one_reading(probabilities: list[float], detector_logit: float | None = -5.0):
    return read(FixedOutputs(probabilities, detector_logit), torch.zeros(1, 1, 28, 28))[0]


def peaked(digit: int, p: float, runner_up: int | None = None, q: float = 0.0) -> list[float]:
    rest = (1 - p - q) / (9 if runner_up is None else 8)
    row = [rest] * 10
    row[digit] = p
    if runner_up is not None:
        row[runner_up] = q
    return row


def test_a_confident_reading_with_no_contender_is_a_digit():
    reading = one_reading(peaked(3, 0.97))
    assert (reading.digit, reading.verdict, reading.runner_up) == (3, DIGIT, None)
    assert reading.confidence == pytest.approx(0.97, abs=1e-6)
    assert reading.not_a_digit_score < NOT_A_DIGIT_FROM


def test_low_confidence_is_unsure():
    assert one_reading(peaked(4, SURE_FROM - 0.05)).verdict == UNSURE


def test_a_real_contender_makes_it_unsure_and_is_named():
    reading = one_reading(peaked(1, 0.76, runner_up=7, q=RUNNER_UP_CONTENDER + 0.01))
    assert (reading.digit, reading.verdict, reading.runner_up) == (1, UNSURE, 7)


def test_a_minor_runner_up_is_named_without_doubting_the_answer():
    reading = one_reading(peaked(9, 0.85, runner_up=4, q=RUNNER_UP_NAMED + 0.01))
    assert (reading.verdict, reading.runner_up) == (DIGIT, 4)


def test_the_detector_overrides_confidence_and_the_best_guess_stays():
    reading = one_reading(peaked(8, 0.99), detector_logit=2.0)
    assert (reading.verdict, reading.digit) == (NOT_A_DIGIT, 8)
    assert reading.not_a_digit_score == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item(), abs=1e-6)


def test_a_model_without_a_detector_never_says_not_a_digit():
    reading = one_reading(peaked(2, 0.3), detector_logit=None)
    assert (reading.verdict, reading.not_a_digit_score) == (UNSURE, None)


@pytest.mark.parametrize(("confidence", "runner_up", "score", "verdict"), [
    (0.99, 0.0, None, DIGIT), (0.99, 0.0, 0.49, DIGIT), (0.99, 0.0, 0.5, NOT_A_DIGIT), (0.2, 0.2, 0.9, NOT_A_DIGIT),
    (SURE_FROM, RUNNER_UP_CONTENDER - 0.001, 0.0, DIGIT), (SURE_FROM - 0.001, 0.0, 0.0, UNSURE),
])
def test_the_verdict_rules_at_their_edges(confidence, runner_up, score, verdict):
    assert verdict_of(confidence, runner_up, score) == verdict


def test_a_real_network_reads_a_batch_the_same_in_its_serving_form():
    torch.manual_seed(0)
    network = DigitNet().eval()
    batch = torch.randn(6, 1, 28, 28)
    plain = read(network, batch)
    served = read(for_serving(network), batch)
    assert [r.digit for r in plain] == [r.digit for r in served]
    assert [r.verdict for r in plain] == [r.verdict for r in served]
    for a, b in zip(plain, served):
        assert a.not_a_digit_score == pytest.approx(b.not_a_digit_score, abs=1e-4)


def test_a_checkpoint_saved_before_the_detector_existed_still_loads_and_reads(tmp_path):
    old = DigitNet(detector=False)
    save_checkpoint(old, tmp_path / "old.pt")
    loaded, _ = load_checkpoint(tmp_path / "old.pt")
    assert loaded.detector is None
    assert read(loaded, torch.zeros(1, 1, 28, 28))[0].not_a_digit_score is None


def test_the_detector_travels_with_the_checkpoint(tmp_path):
    torch.manual_seed(1)
    network = DigitNet().eval()
    save_checkpoint(network, tmp_path / "new.pt")
    loaded, _ = load_checkpoint(tmp_path / "new.pt")
    batch = torch.randn(3, 1, 28, 28)
    assert [r.not_a_digit_score for r in read(loaded, batch)] == [r.not_a_digit_score for r in read(network, batch)]
