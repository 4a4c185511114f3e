"""CPU forward time and peak memory: the reference BertModel vs transformers' (same weights, same threads).

One process, fp32 (default), random bert-base weights, eval + inference mode. The two models run alternately
(order swapped every round); the median of N rounds is reported, with the ratio reference / transformers, the
ratio of the fastest rounds (less sensitive to other load on the machine) and the achieved GFLOP/s next to a
large fp32 matmul's rate on the same threads. Peak memory is the peak of live CPU allocations during one
forward, from torch's profiler.

    python benchmarks/reference_vs_hf_cpu.py                     # batch 1 and 4 x seq 128, 10 rounds
    python benchmarks/reference_vs_hf_cpu.py --rounds 3 --shapes 1x128 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

import bert_reference  # noqa: E402

BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072)


def forward_flops(batch: int, seq: int, hidden: int, inter: int, layers: int) -> float:
    """Matmul FLOPs of the encoder: q/k/v/output projections, scores and context, feed-forward."""
    tokens = batch * seq
    per_layer = 8 * tokens * hidden**2 + 4 * batch * seq**2 * hidden + 4 * tokens * hidden * inter
    return float(layers * per_layer)


def matmul_gflops(size: int = 4096, rounds: int = 3) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    return 2 * size**3 / statistics.median(timed(lambda: torch.mm(a, b)) for _ in range(rounds)) / 1e9


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak of live CPU bytes allocated while `fn` runs (allocations minus frees, in order)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.cpu_memory_usage != 0), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.cpu_memory_usage
        peak = max(peak, live)
    return peak


def build(dtype: torch.dtype, attn: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    import transformers

    transformers.logging.set_verbosity_error()
    hf = transformers.BertModel(transformers.BertConfig(**BERT_BASE, attn_implementation=attn)).eval()
    ref = bert_reference.BertModel(bert_reference.BertConfig(**BERT_BASE, attn_implementation=attn)).eval()
    ref.load_hf_state_dict(hf.state_dict())
    return hf.to(dtype), ref.to(dtype)


def _call(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> Callable[[], object]:
    return lambda: model(ids, attention_mask=mask)


def measure(runs: dict[str, Callable[[], object]], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Alternate the runs, swapping their order every round; return each one's times in seconds."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    names = list(runs)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            times[name].append(timed(runs[name]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--shapes", default="1x128,4x128", help="comma-separated BATCHxSEQ")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float64"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hf, ref = build(getattr(torch, args.dtype), args.attn)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.dtype}, attn {args.attn}, "
          f"{args.rounds} rounds; 4096^3 fp32 matmul: {matmul_gflops():.1f} GFLOP/s")
    print(f"{'shape':>8} {'ref ms':>8} {'hf ms':>8} {'ratio':>6} {'min ratio':>9} {'ref GF/s':>8} {'hf GF/s':>8} "
          f"{'ref peak MiB':>12} {'hf peak MiB':>11} {'max |diff|':>10}")
    generator = torch.Generator().manual_seed(0)
    for shape in args.shapes.split(","):
        batch, seq = (int(x) for x in shape.split("x"))
        ids = torch.randint(1, BERT_BASE["vocab_size"], (batch, seq), generator=generator)
        mask = torch.ones(batch, seq, dtype=torch.long)
        runs = {name: _call(model, ids, mask) for name, model in (("ref", ref), ("hf", hf))}
        with torch.inference_mode():
            times = measure(runs, args.rounds, args.warmup)
            diff = (runs["ref"]().last_hidden_state - runs["hf"]().last_hidden_state).abs().max().item()
            peaks = {name: peak_bytes(fn) / 2**20 for name, fn in runs.items()}
        median = {name: statistics.median(values) for name, values in times.items()}
        fastest = {name: min(values) for name, values in times.items()}
        flops = forward_flops(batch, seq, BERT_BASE["hidden_size"], BERT_BASE["intermediate_size"],
                              BERT_BASE["num_hidden_layers"])
        print(f"{shape:>8} {median['ref'] * 1e3:8.1f} {median['hf'] * 1e3:8.1f} {median['ref'] / median['hf']:6.3f} "
              f"{fastest['ref'] / fastest['hf']:9.3f} {flops / median['ref'] / 1e9:8.1f} "
              f"{flops / median['hf'] / 1e9:8.1f} {peaks['ref']:12.1f} {peaks['hf']:11.1f} {diff:10.2e}")


if __name__ == "__main__":
    main()
