import pytest
import torch

from recognizer.ml.checkpoints import CheckpointError, file_sha256, load_checkpoint, save_checkpoint
from recognizer.ml.network import LAYOUTS, DigitNet


def test_a_saved_checkpoint_loads_with_the_same_weights(tmp_path):
    model = DigitNet()
    sha = save_checkpoint(model, tmp_path / "m.pt", metadata={"epochs": 3})
    loaded, metadata = load_checkpoint(tmp_path / "m.pt")
    assert sha == file_sha256(tmp_path / "m.pt")
    assert metadata == {"epochs": 3}
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_a_damaged_file_is_refused_with_a_reason(tiny_checkpoint):
    tiny_checkpoint.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tiny_checkpoint)


def test_a_missing_file_is_refused_with_a_reason(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_pickled_module_is_refused(tmp_path):
    torch.save(DigitNet(), tmp_path / "whole.pt")  # a whole pickled module may run code when loaded
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "whole.pt")


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_each_checkpoint_loads_with_the_architecture_it_was_saved_with(tmp_path, architecture):
    # Versions trained with an older layout stay loadable, so staff can still roll back to them.
    save_checkpoint(DigitNet(architecture), tmp_path / "m.pt")
    loaded, _ = load_checkpoint(tmp_path / "m.pt")
    assert loaded.architecture == architecture
    with torch.inference_mode():
        assert loaded(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize("saved_as, named, refusal", [
    ("DigitNet-v2", "DigitNet-v99", "unknown architecture 'DigitNet-v99'"),  # a layout this code does not know
    ("DigitNet-v1", "DigitNet-v2", "does not fit DigitNet-v2"),              # weights of one under another's name
])
def test_a_checkpoint_naming_the_wrong_architecture_is_refused_with_a_reason(tmp_path, saved_as, named, refusal):
    save_checkpoint(DigitNet(saved_as), tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    torch.save({**payload, "arch": named}, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=refusal):
        load_checkpoint(tmp_path / "m.pt")
