import torch

from recognizer.ml.network import DigitNet, parameter_count


def test_it_maps_a_batch_of_digits_to_ten_logits():
    model = DigitNet().eval()
    with torch.inference_mode():
        logits = model(torch.randn(5, 1, 28, 28))
    assert logits.shape == (5, 10)
    assert logits.dtype == torch.float32


def test_it_stays_within_its_parameter_budget():
    # Small enough for sub-millisecond CPU inference (see bench/), big enough for 99.5 %+ on MNIST.
    assert 200_000 < parameter_count(DigitNet()) < 1_000_000
