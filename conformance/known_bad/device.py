"""Device bugs: a port whose accelerator path differs from its CPU path (checked with ``--bert-device``).

The corpus runs on machines without a GPU, so these ports *emulate* their ``cuda`` device: they claim it and
run on the CPU when a clause asks for it, with the bug applied only there. What the corpus proves is the
suite's side: under ``--bert-device cuda`` every model-loading clause asks the port for the run's device (a bug
living only in the CUDA path fails them), while the ``core.*`` clauses keep checking the CPU minimal core.
"""

from __future__ import annotations

from typing import Any

from bert_conformance.known_bad._base import KnownBad, KnownBadPort, anchor, instances, register, resolver
from bert_conformance.known_bad.probe import Probe
from bert_reference import model as ref_model


class FusedKernelDropsPadding(KnownBad):
    description = "(emulated CUDA) its fused attention kernel ignores the padding mask; the CPU path is right"
    kills = ("numerics.float64.BertModel", "golden.model.heavy_right_padding-float64",
             "properties.padding_invariance-BertModel")
    hides_in = ("core.forward.last_hidden_state",)  # core clauses check the CPU minimal core in every run
    run_args = ("--bert-device", "cuda")
    probe = Probe(device="cuda")

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        return {**caps, "devices": ["cpu", "cuda"]}

    def load(self, head: str, config: dict, state_dict: dict, *, device: str = "cpu", **kwargs: Any) -> Any:
        model = KnownBadPort.load(self, head, config, state_dict, device="cpu", **kwargs)  # "cuda" runs on the CPU
        if device == "cuda":
            self.mutate(model.module, config)
        return model

    def mutate(self, module: Any, config: dict) -> None:
        def no_padding(bert: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            mask = kwargs.get("attention_mask")
            return args, ({**kwargs, "attention_mask": None} if mask is not None and mask.dim() == 2 else kwargs)

        for bert in instances(module, anchor(ref_model, "BertModel")):
            anchor(bert, "forward", params=("attention_mask",))
            bert.register_forward_pre_hook(no_padding, with_kwargs=True)


MUTANTS = register("device", FusedKernelDropsPadding)
__getattr__ = resolver(MUTANTS)
