import pytest
import torch
import torchvision
from torch.utils.data import DataLoader, TensorDataset

from recognizer.ml.network import DigitNet
from training.ml.data import loader, mnist_dataset
from training.ml.loop import FitConfig, evaluate, fit


def test_torchvision_ops_run_beside_this_torch():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_evaluate_counts_a_confusion_matrix():
    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((x.shape[0],), 3), 10).float()

    labels = torch.tensor([3, 3, 5, 1])
    metrics = evaluate(Constant(), DataLoader(TensorDataset(torch.zeros(4, 1, 28, 28), labels), batch_size=3))
    assert metrics.accuracy == 0.5
    assert metrics.count == 4
    assert metrics.confusion[5][3] == 1 and metrics.confusion[3][3] == 2
    assert metrics.per_digit[3] == 1.0 and metrics.per_digit[1] == 0.0


def test_max_batches_stops_an_epoch_early():
    seen = []
    data = DataLoader(TensorDataset(torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))), batch_size=8)
    fit(DigitNet(), data, FitConfig(epochs=1, max_batches=3), on_batch=lambda i, n, loss, acc: seen.append((i, n)))
    assert seen == [(0, 3), (1, 3), (2, 3)]


@pytest.mark.slow
def test_a_short_real_training_run_learns(mnist_dir):
    train = loader(mnist_dataset(mnist_dir, train=True, augment=True, limit=2000), batch_size=64, shuffle=True)
    test = loader(mnist_dataset(mnist_dir, train=False, limit=1000), batch_size=500, shuffle=False)
    model = DigitNet()
    epochs = []
    history = fit(model, train, FitConfig(epochs=2, seed=0), on_epoch=epochs.append)
    assert [record["epoch"] for record in epochs] == [1, 2]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert evaluate(model, test).accuracy > 0.8  # chance is 0.10
