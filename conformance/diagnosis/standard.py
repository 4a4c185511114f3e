"""What a port's probe outputs are held to: the spec's elementwise tolerance for the dtype it runs in, or, for
a port whose declared accuracy tier is not elementwise (spec/tiers.yaml), that tier's own token criteria."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bert_conformance.adapter import Port
from bert_conformance.diagnosis.probes import Probe
from bert_conformance.tolerance import Tolerance, tolerance_for


def port_dtype(port: Port) -> str:
    """float64 when the port claims it (the semantic tier: a bug shows at 1e-9), else float32."""
    return "float64" if "float64" in port.capabilities.dtypes else "float32"


@dataclass(frozen=True)
class Similarity:
    """How a port of a non-elementwise accuracy tier (spec/tiers.yaml: float16, bfloat16, int8 ...) is held on
    a probe: by its tier's own token criteria, ``tiers.<tier>.token_cosine_min`` and ``_mean``, over the
    probe's output vectors (each token's, each row of logits), not by an elementwise tolerance its rounding
    cannot meet. The ratio is the larger of the two shortfalls from 1 over the one allowed (> 1 fails)."""

    tier: str
    cosine_min: float
    cosine_mean: float

    def ratio(self, a: np.ndarray, e: np.ndarray) -> float:
        cosines = _cosines(a, e)
        if cosines.size == 0:
            return 0.0
        return max((1 - cosines.min()) / (1 - self.cosine_min), (1 - cosines.mean()) / (1 - self.cosine_mean))


@dataclass(frozen=True)
class Standard:
    """What a port's probe outputs are held to: the spec's elementwise tolerance for the dtype it runs in, or
    its tier's similarity criteria (``similarity``) when its accuracy tier is not elementwise."""

    dtype: str
    similarity: Similarity | None = None


def port_standard(port: Port) -> Standard:
    """The port's dtype (:func:`port_dtype`), with its tier's criteria if its declared tier is not elementwise."""
    dtype, tier = port_dtype(port), port.capabilities.tier
    if tier is None:
        return Standard(dtype)
    from bert_conformance.tiers import tiers_spec

    declared = tiers_spec().tier(tier)
    if declared.elementwise:
        return Standard(dtype)
    thresholds = {criterion.metric.name: criterion.threshold for criterion in declared.criteria}
    return Standard(dtype, Similarity(tier, thresholds["token_cosine_min"], thresholds["token_cosine_mean"]))


def _cosines(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The cosine of each vector of ``a`` with ``e``'s along the last axis (the whole array when the last axis
    is too short to be a vector: a scalar per row); two zero vectors agree, one zero vector does not."""
    if a.ndim == 0 or a.shape[-1] < 4:
        a, e = a.reshape(1, -1), e.reshape(1, -1)
    a, e = a.reshape(-1, a.shape[-1]), e.reshape(-1, e.shape[-1])
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(e, axis=-1)
    both_zero = (np.abs(a).max(axis=-1) == 0) & (np.abs(e).max(axis=-1) == 0)
    return np.where(both_zero, 1.0, (a * e).sum(axis=-1) / np.where(norms > 0, norms, np.inf))


def tolerance(probe: Probe, standard: Standard) -> Tolerance | Similarity:
    """The spec's tolerance for the probe's kind in the port's dtype, or its tier's similarity criteria."""
    if standard.similarity is not None:
        return standard.similarity
    return tolerance_for(standard.dtype, "loss" if probe.kind == "loss" else "outputs")
