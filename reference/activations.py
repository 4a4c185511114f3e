"""The `hidden_act` functions, each written with the formula transformers' ACT2FN uses (activations.py).

"gelu" is the exact erf GELU, not the tanh approximation. The two parameterised entries of ACT2FN ("prelu",
"xielu") carry trainable weights that would add state-dict keys to BERT; they are not supported
(config.hidden_act.prelu, config.hidden_act.xielu: optional for a port).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def gelu(x: Tensor) -> Tensor:
    """Exact GELU: x * Phi(x), via torch's erf kernel (transformers' GELUActivation)."""
    return F.gelu(x)


def gelu_python(x: Tensor) -> Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x: Tensor) -> Tensor:
    """The tanh approximation as written in Google's BERT / OpenAI GPT (NewGELUActivation)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_python_tanh(x: Tensor) -> Tensor:
    return x * 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_pytorch_tanh(x: Tensor) -> Tensor:
    return F.gelu(x, approximate="tanh")


def gelu_fast(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def gelu_accurate(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))


def gelu_10(x: Tensor) -> Tensor:
    return torch.clip(F.gelu(x), -10, 10)


def quick_gelu(x: Tensor) -> Tensor:
    return x * torch.sigmoid(1.702 * x)


def laplace(x: Tensor, mu: float = 0.707107, sigma: float = 0.282095) -> Tensor:
    x = (x - mu).div(sigma * math.sqrt(2.0))
    return 0.5 * (1.0 + torch.erf(x))


def relu2(x: Tensor) -> Tensor:
    return torch.square(F.relu(x))


def sqrtsoftplus(x: Tensor) -> Tensor:
    return F.softplus(x).sqrt()


def linear(x: Tensor) -> Tensor:
    return x


# config.hidden_act.*: transformers' ACT2FN keys, each with its clause id.
ACT2FN: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": gelu,  # config.hidden_act.gelu
    "gelu_10": gelu_10,  # config.hidden_act.gelu_10
    "gelu_accurate": gelu_accurate,  # config.hidden_act.gelu_accurate
    "gelu_fast": gelu_fast,  # config.hidden_act.gelu_fast
    "gelu_new": gelu_new,  # config.hidden_act.gelu_new
    "gelu_python": gelu_python,  # config.hidden_act.gelu_python
    "gelu_python_tanh": gelu_python_tanh,  # config.hidden_act.gelu_python_tanh
    "gelu_pytorch_tanh": gelu_pytorch_tanh,  # config.hidden_act.gelu_pytorch_tanh
    "hardswish": F.hardswish,  # config.hidden_act.hardswish
    "laplace": laplace,  # config.hidden_act.laplace
    "leaky_relu": F.leaky_relu,  # config.hidden_act.leaky_relu: negative_slope 0.01, nn.LeakyReLU's default
    "linear": linear,  # config.hidden_act.linear
    "mish": F.mish,  # config.hidden_act.mish
    "quick_gelu": quick_gelu,  # config.hidden_act.quick_gelu
    "relu": F.relu,  # config.hidden_act.relu
    "relu2": relu2,  # config.hidden_act.relu2
    "relu6": F.relu6,  # config.hidden_act.relu6
    "sigmoid": torch.sigmoid,  # config.hidden_act.sigmoid
    "silu": F.silu,  # config.hidden_act.silu
    "sqrtsoftplus": sqrtsoftplus,  # config.hidden_act.sqrtsoftplus
    "swish": F.silu,  # config.hidden_act.swish
    "tanh": torch.tanh,  # config.hidden_act.tanh
}
