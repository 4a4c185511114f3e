"""What the runtime adapters share to cache converted models within a process."""

from __future__ import annotations

import hashlib

import numpy as np


def state_dict_digest(state_dict: dict[str, np.ndarray]) -> str:
    """A key for "these weights": names, shapes, dtypes and bytes (a converted model is reused only for the same)."""
    sha = hashlib.sha1()
    for name in sorted(state_dict):
        value = np.ascontiguousarray(state_dict[name])
        sha.update(f"{name}{value.shape}{value.dtype}".encode())
        sha.update(value.data)
    return sha.hexdigest()
