"""A personal model: a few per-person weights on the shared network's frozen trunk. No Django.

A person's handwriting differs from MNIST in stroke shapes (an open 4, a 1 with a long flag) and in which shapes
mean which digit. The shared network's convolutional stages stay as they are (the trunk, run once per drawing for
everyone); a person's model adds, on the last stage's output (64 maps of 7x7):

- a residual convolutional adapter: a 3x3 convolution down to ``conv_rank`` maps and a 1x1 back up, starting at
  zero, so it learns stroke shapes the frozen features do not tell apart;
- low-rank updates (LoRA) to the dense layers of the classifier and of the non-digit detector, with their biases;
- its own last layers (128 -> 10 digits, 64 -> 1 "no digit").

About 51 000 numbers (0.1 MB as float16, stored and in memory), where a full copy of the network is
632 000 (2.5 MB). ``PersonalNetwork`` wraps the parent's served network and an adapter with the same interface as
DigitNet (``embed``, ``classifier``, ``detector``), so ml.reader reads it as it reads any network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .network import DigitNet, LAYOUTS

ADAPTER_FORMAT = "PersonalAdapter-v1"  # a personal version's ``architecture``: these are adapter weights


class AdapterError(Exception):
    """The bytes are no personal adapter, or one that does not fit its parent."""


@dataclass(frozen=True)
class AdapterShape:
    """How big a personal model is. The ranks were chosen on the tuning writers of bench.writers (README: "How
    deep a personal model adapts")."""
    conv_rank: int = 16      # maps of the 3x3 adapter on the last stage; 0: no convolutional adapter
    hidden_rank: int = 8     # rank of the update to the classifier's dense layer (3136 -> 128)
    detector_rank: int = 4   # rank of the update to the detector's dense layer (3136 -> 64)


def trunk_shape(parent: DigitNet) -> tuple[int, int]:
    """(channels, side) of the parent's last stage output: (64, 7) for DigitNet-v2."""
    layout = LAYOUTS[parent.architecture]
    return layout[-1][-1], 28 // 2 ** len(layout)


class LowRankDense(nn.Module):
    """``base`` (frozen, shared) plus a trainable low-rank update and bias: base(x) + up(down(x)) + shift. Its own
    numbers may rest in float16 (a served model): they are widened to the input's type as they are used."""

    def __init__(self, base: nn.Linear, rank: int, *, initialise: bool = True) -> None:
        super().__init__()
        self.base = base
        down = torch.randn(rank, base.in_features) / base.in_features ** 0.5 if initialise else torch.empty(
            rank, base.in_features)
        self.down = nn.Parameter(down)
        self.up = nn.Parameter(torch.zeros(base.out_features, rank))  # zero: it starts as the parent's layer
        self.shift = nn.Parameter(torch.zeros(base.out_features))

    def forward(self, x: Tensor) -> Tensor:
        return (self.base(x) + F.linear(F.linear(x, self.down.to(x.dtype)), self.up.to(x.dtype))
                + self.shift.to(x.dtype))


def _linear(layer: nn.Linear, x: Tensor) -> Tensor:
    return F.linear(x, layer.weight.to(x.dtype), layer.bias.to(x.dtype))


class PersonalAdapter(nn.Module):
    """One person's weights. Built on a parent (whose layers it reads, never changes); only its own parameters
    are stored (``adapter_state``)."""

    architecture = ADAPTER_FORMAT

    def __init__(self, parent: DigitNet, shape: AdapterShape = AdapterShape(), *, initialise: bool = True) -> None:
        """``initialise`` False: its numbers are about to be loaded, so none are drawn (a web process loads
        thousands)."""
        super().__init__()
        self.shape = shape
        self.channels, self.side = trunk_shape(parent)
        if shape.conv_rank:
            self.conv_down = nn.Conv2d(self.channels, shape.conv_rank, kernel_size=3, padding=1)
            self.conv_up = nn.Conv2d(shape.conv_rank, self.channels, kernel_size=1)
            nn.init.zeros_(self.conv_up.weight)  # zero: it starts as the parent's features
            nn.init.zeros_(self.conv_up.bias)
        hidden, output = parent.classifier[1], parent.classifier[4]
        self.hidden = LowRankDense(hidden, shape.hidden_rank, initialise=initialise)
        self.output = nn.Linear(output.in_features, output.out_features)
        if initialise:
            self.output.load_state_dict(output.state_dict())
        self.dropout = parent.classifier[3].p
        self.detector_hidden = self.detector_output = None
        if parent.detector is not None:
            self.detector_hidden = LowRankDense(parent.detector[0], shape.detector_rank, initialise=initialise)
            self.detector_output = nn.Linear(parent.detector[2].in_features, 1)
            if initialise:
                self.detector_output.load_state_dict(parent.detector[2].state_dict())
        for name, parameter in self.named_parameters():
            if ".base." in f".{name}":
                parameter.requires_grad_(False)  # the parent's: shared, never trained here

    # ---- From the trunk's features on ----

    def adapt(self, features: Tensor) -> Tensor:
        """(N, C*side*side) trunk features -> the same, with the person's stroke adapter applied."""
        if not self.shape.conv_rank:
            return features
        maps = features.reshape(-1, self.channels, self.side, self.side)
        dtype = features.dtype
        down = F.conv2d(maps, self.conv_down.weight.to(dtype), self.conv_down.bias.to(dtype), padding=1)
        up = F.conv2d(F.relu(down), self.conv_up.weight.to(dtype), self.conv_up.bias.to(dtype))
        return (maps + up).flatten(1)

    def classify(self, adapted: Tensor) -> Tensor:
        """Adapted features -> (N, 10) logits."""
        hidden = F.relu(self.hidden(adapted))
        return _linear(self.output, F.dropout(hidden, self.dropout, self.training))

    def detect(self, adapted: Tensor) -> Tensor:
        """Adapted features -> (N, 1) "no digit" logits."""
        return _linear(self.detector_output, F.relu(self.detector_hidden(adapted)))

    def adapter_state(self) -> dict[str, Tensor]:
        """Only this person's numbers: the parent's frozen layers are not copied."""
        return {name: value.detach().cpu() for name, value in self.state_dict().items()
                if ".base." not in f".{name}"}

    def on_trunk(self) -> "TrunkHeads":
        """Its classifier and detector as modules that read the trunk's features (the adapter applied first):
        what the gate and the held-out figures measure on precomputed features."""
        return TrunkHeads(_OnTrunk(self, detector=False),
                          _OnTrunk(self, detector=True) if self.detector_hidden is not None else None)


@dataclass(frozen=True)
class TrunkHeads:
    classifier: nn.Module
    detector: nn.Module | None


class _OnTrunk(nn.Module):
    def __init__(self, adapter: PersonalAdapter, detector: bool) -> None:
        super().__init__()
        self.adapter, self.is_detector = adapter, detector

    def forward(self, features: Tensor) -> Tensor:
        adapted = self.adapter.adapt(features)
        return self.adapter.detect(adapted) if self.is_detector else self.adapter.classify(adapted)


class _Head(nn.Module):
    """An adapter's classifier or detector, shaped like DigitNet's (one call: features -> logits)."""

    def __init__(self, adapter: PersonalAdapter, detector: bool) -> None:
        super().__init__()
        self.adapter, self.is_detector = adapter, detector

    def forward(self, features: Tensor) -> Tensor:
        # The adapter is applied once, in embed(); the heads read its output.
        return self.adapter.detect(features) if self.is_detector else self.adapter.classify(features)


class PersonalNetwork(nn.Module):
    """The parent's served network and a person's adapter, read as one DigitNet: ``embed`` runs the shared trunk
    then the person's stroke adapter; ``classifier`` and ``detector`` are the person's heads."""

    def __init__(self, parent: DigitNet, adapter: PersonalAdapter) -> None:
        super().__init__()
        self.parent, self.adapter = parent, adapter.eval()
        self.architecture = parent.architecture
        self.classifier = _Head(adapter, detector=False)
        self.detector = _Head(adapter, detector=True) if adapter.detector_hidden is not None else None

    def embed(self, x: Tensor) -> Tensor:
        return self.adapter.adapt(self.parent.embed(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))

    def resident_bytes(self) -> int:
        """What this person's model adds to a process: its own numbers (the parent's are shared)."""
        return sum(value.numel() * value.element_size() for value in self.adapter.adapter_state().values())


# ---- Stored form: a small header and the person's numbers as float16, read without unpickling ----

MAGIC = b"mnistsite personal adapter\n"


def adapter_bytes(adapter: PersonalAdapter, *, parent_sha256: str, metadata: dict | None = None) -> bytes:
    """The adapter as stored: a JSON header (format, shape, the parent's checksum, each tensor's name and shape)
    and then its own numbers, float16, in that order. Plain bytes, so a web process reads one in well under a
    millisecond (torch.load's safe unpickler took 2.5 ms) and no stored file can run code."""
    state = {name: value.half().contiguous() for name, value in adapter.adapter_state().items()}
    header = json.dumps({"format": ADAPTER_FORMAT, "shape": asdict(adapter.shape), "parent_sha256": parent_sha256,
                         "metadata": metadata or {},
                         "tensors": [[name, list(value.shape)] for name, value in state.items()]}).encode()
    return b"".join([MAGIC, len(header).to_bytes(4, "big"), header,
                     *(value.numpy().tobytes() for value in state.values())])


def adapter_from_bytes(data: bytes, parent: DigitNet, *, parent_sha256: str) -> PersonalAdapter:
    """The adapter stored in ``data``, on ``parent``, its own numbers kept as float16 (widened as they are used);
    AdapterError when it is no adapter, is cut short, or was trained on another parent."""
    if not data.startswith(MAGIC):
        raise AdapterError("not a personal model's weights")
    start = len(MAGIC) + 4
    try:
        size = int.from_bytes(data[len(MAGIC):start], "big")
        header = json.loads(data[start:start + size])
        tensors, shape = header["tensors"], AdapterShape(**header["shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AdapterError(f"not a personal model's weights: {exc}") from exc
    if header.get("format") != ADAPTER_FORMAT:
        raise AdapterError("not a personal model's weights")
    if header.get("parent_sha256") != parent_sha256:
        raise AdapterError("it was trained on another shared model than the one it names as its parent")
    body = len(data) - start - size
    if body <= 0 or body % 2:
        raise AdapterError("the weights are cut short")
    numbers = np.frombuffer(data, dtype=np.float16, offset=start + size)
    state, position = {}, 0
    for name, dims in tensors:
        count = int(np.prod(dims))
        if position + count > len(numbers):
            raise AdapterError("the weights are cut short")
        state[name] = torch.from_numpy(numbers[position:position + count].reshape(dims).copy())
        position += count
    if position != len(numbers):
        raise AdapterError("the weights do not fit their parent")
    try:
        adapter = PersonalAdapter(parent, shape, initialise=False)
        missing, unexpected = adapter.load_state_dict(state, strict=False, assign=True)
    except (RuntimeError, TypeError) as exc:
        raise AdapterError(f"the weights do not fit their parent: {exc}") from exc
    if unexpected or any(".base." not in f".{name}" for name in missing):
        raise AdapterError("the weights do not fit their parent")
    return adapter.eval()


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
