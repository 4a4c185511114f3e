"""Dtypes and tolerances for clause modules: which dtype a clause checks in, and at which tolerance.

- :func:`check_dtype`: float64 when the port claims it (the semantic tier, where a bug shows at 1e-9), else the
  core float32;
- :func:`judged_loss_dtype`: the dtype a port's loss is judged in (labels.yaml ``upcast`` allows another);
- :func:`port_tolerance`: a clause's tolerance kind (tolerances.yaml) for comparing the port with itself;
- :func:`cast_floats`: floating label arrays in the model's dtype.

Which dtype the spec computes a head's loss in is :func:`bert_conformance.losses.loss_dtype`; which ones a port may
return it in, :func:`bert_conformance.losses.loss_dtypes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.adapter import Capabilities
from bert_conformance.losses import loss_dtypes
from bert_conformance.tolerance import Tolerance, tolerance_for

SEMANTIC_DTYPE = "float64"
CORE_DTYPE = "float32"


def check_dtype(capabilities: Capabilities) -> str:
    """The dtype clauses compare in: float64 if claimed (semantic tier), else the core float32."""
    return SEMANTIC_DTYPE if SEMANTIC_DTYPE in capabilities.dtypes else CORE_DTYPE


def judged_loss_dtype(head: str, model_dtype: str, actual: Any) -> str:
    """The dtype a head's loss is judged in: its own where the port may return it in that dtype
    (:func:`bert_conformance.losses.loss_dtypes`), else the model's.

    HF computes the causal-LM loss in float32 whatever the model dtype (a float64 model gets a float32 loss);
    the spec's "upcast" leaves float64 open, so a float64 port may return either (judged in its own dtype).
    """
    got = getattr(getattr(actual, "dtype", None), "name", None)
    return got if got in loss_dtypes(head, model_dtype) else model_dtype


def port_tolerance(clause: Mapping[str, Any], dtype: str) -> Tolerance:
    """The clause's tolerance kind (tolerances.yaml) for comparing the port with itself."""
    return tolerance_for(dtype, clause.get("tolerance", "outputs"))


def cast_floats(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Floating label arrays in the model's dtype (integer ones unchanged)."""
    return {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for k, v in values.items()}
