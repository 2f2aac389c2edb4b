import pytest
import torch

from recognizer.ml.network import (
    ARCHITECTURE, LAYOUTS, DigitNet, UnknownArchitecture, for_serving, parameter_count,
)


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


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_the_serving_form_gives_the_same_answers_without_batchnorm(architecture):
    torch.manual_seed(0)
    model = DigitNet(architecture)
    model.train()
    with torch.no_grad():  # a few batches so BatchNorm's running statistics are not the identity
        for _ in range(3):
            model(torch.randn(16, 1, 28, 28))
    model.eval()
    images = torch.randn(8, 1, 28, 28)
    with torch.inference_mode():
        expected = model(images)
        served = for_serving(model)
        assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in served.modules())
        assert torch.allclose(served(images.contiguous(memory_format=torch.channels_last)), expected, atol=1e-4)
