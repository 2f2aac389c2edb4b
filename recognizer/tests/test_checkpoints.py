import pytest
import torch

from recognizer.ml.checkpoints import CheckpointError, file_sha256, load_checkpoint, save_checkpoint
from recognizer.ml.network import DigitNet


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
