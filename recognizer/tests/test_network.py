import pytest
import torch

from recognizer.ml.network import ARCHITECTURE, LAYOUTS, DigitNet, UnknownArchitecture, parameter_count


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_it_maps_a_batch_of_digits_to_ten_logits(architecture):
    model = DigitNet(architecture).eval()
    with torch.inference_mode():
        logits = model(torch.randn(5, 1, 28, 28))
    assert logits.shape == (5, 10)
    assert logits.dtype == torch.float32


def test_new_networks_use_the_current_architecture():
    assert DigitNet().architecture == ARCHITECTURE == "DigitNet-v2"


def test_an_unknown_architecture_is_refused():
    with pytest.raises(UnknownArchitecture, match="DigitNet-v1, DigitNet-v2"):
        DigitNet("ResNet-50")


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_it_stays_within_its_parameter_budget(architecture):
    # Small enough for sub-millisecond CPU inference (see bench/), big enough for 99.5 %+ on MNIST.
    assert 200_000 < parameter_count(DigitNet(architecture)) < 1_000_000
