"""Image models (small CNN, CIFAR-style ResNet-18), initialised from the run seed.

Every parameter is drawn from ``torch_generator(seed, -1, "model-init")``, so all ranks build
the same x⁰ without communicating, and building a model leaves torch's global random state
untouched. torchvision is not needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..rng import torch_generator

__all__ = ["VISION_MODELS", "build_vision_model", "resnet18", "small_cnn"]

VISION_MODELS = ("cnn", "resnet18")


def _pair(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    h, w = image_size
    return int(h), int(w)


def small_cnn(in_channels: int, classes: int, image_size: int | Sequence[int]) -> nn.Sequential:
    """Two 5x5 conv layers (16 and 32 channels, ReLU, 2x2 max-pool each) and a linear layer.

    ``image_size`` is the side (or (height, width)) of the input; about 29k parameters for
    MNIST (1x28x28) and 34.5k for CIFAR-10 (3x32x32), 10 classes. Weights use PyTorch's
    default initialisation; call :func:`build_vision_model` for a seeded one.
    """
    h, w = _pair(image_size)
    if h < 4 or w < 4:
        raise ValueError(f"small_cnn needs images of at least 4x4 pixels, got {h}x{w}")
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (h // 4) * (w // 4), classes),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and an identity (or 1x1 conv + BN) shortcut."""

    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR-style ResNet-18 (He et al., 2016): a 3x3 stride-1 stem without max-pool, four
    stages of two BasicBlocks (64, 128, 256, 512 channels; strides 1, 2, 2, 2), global average
    pooling and a linear classifier. About 11.2M parameters.

    BatchNorm: the BN weights and biases are parameters and are gossiped like every other
    parameter, but the BN *running statistics* (``running_mean``, ``running_var``,
    ``num_batches_tracked``) are buffers: they are local to each rank, estimated from that
    rank's own minibatches, and never gossiped or averaged. In ``eval()`` mode each rank
    therefore normalises with its own statistics, which differ between ranks under non-iid
    partitions.
    """

    def __init__(self, in_channels: int = 3, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False),
                                  nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet18(in_channels: int, classes: int) -> ResNet18:
    """A CIFAR-style ResNet-18 (see :class:`ResNet18`, including the BatchNorm note).
    Weights use PyTorch's default initialisation; call :func:`build_vision_model` for a seeded
    one."""
    return ResNet18(in_channels, classes)


def _init_(model: nn.Module, g: torch.Generator) -> None:
    """Draw every parameter from ``g``, in module order.

    Conv layers in a network with BatchNorm (ResNet) get He-normal weights (fan-out, as in
    torchvision's ResNet); other conv and linear layers get PyTorch's default
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. BatchNorm starts at weight 1,
    bias 0, with fresh running statistics.
    """
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                if isinstance(m, nn.Conv2d) and has_bn:
                    fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
                    m.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=g)
                else:
                    bound = 1.0 / fan_in ** 0.5
                    m.weight.uniform_(-bound, bound, generator=g)
                if m.bias is not None:
                    bound = 1.0 / fan_in ** 0.5
                    m.bias.uniform_(-bound, bound, generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.reset_running_stats()
            elif any(True for _ in m.parameters(recurse=False)):
                raise TypeError(f"no seeded initialisation for {type(m).__name__}")


def build_vision_model(name: str, in_shape: Sequence[int], classes: int,
                       seed: int = 0) -> nn.Module:
    """``cnn`` (:func:`small_cnn`) or ``resnet18`` (:func:`resnet18`) for inputs of shape
    ``in_shape`` = (channels, height, width), e.g. ``dataset.x_train.shape[1:]``, with every
    parameter drawn from ``torch_generator(seed, -1, "model-init")``."""
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != 3 or min(in_shape) < 1:
        raise ValueError(f"in_shape must be (channels, height, width), got {in_shape}; "
                         f"the cnn and resnet18 models take image data sets (mnist, "
                         f"fashion-mnist, cifar10)")
    c, h, w = in_shape
    # Module constructors draw their default init from torch's global generator; keep the
    # caller's global stream untouched (everything is redrawn from ``g`` below).
    with torch.random.fork_rng(devices=[]):
        if name == "cnn":
            model: nn.Module = small_cnn(c, classes, (h, w))
        elif name == "resnet18":
            model = resnet18(c, classes)
        else:
            raise ValueError(f"unknown vision model {name!r}; accepted: {', '.join(VISION_MODELS)}")
    _init_(model, torch_generator(seed, -1, "model-init"))
    return model
