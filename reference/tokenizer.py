"""Reference BERT tokenizer, assembled from the `tokenizers` library like HF v5 `BertTokenizer`.

The pipeline is the one `transformers.BertTokenizer` builds (models/bert/tokenization_bert.py):
BertNormalizer -> BertPreTokenizer -> WordPiece -> TemplateProcessing, decoded by the WordPiece decoder.
Nothing here re-implements WordPiece; this module adds input checks and HF's call conventions.
Where HF silently does something odd on bad input, this tokenizer raises a ValueError instead.

Clause ids of the tokenizer spec are named where each behaviour is set up: tokenizer.option.*,
tokenizer.vocab.*, tokenizer.special.*, tokenizer.normalizer.*, tokenizer.pre_tokenizer.*,
tokenizer.wordpiece.*, tokenizer.template.*, tokenizer.truncation.*, tokenizer.padding.*, tokenizer.decode.*,
tokenizer.input.*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import AddedToken, Encoding, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

# HF's "no maximum length" (tokenization_utils_base.VERY_LARGE_INTEGER): tokenizer.option.model_max_length.
VERY_LARGE_INTEGER = int(1e30)
SPECIAL_ROLES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second")
# HF's Python-level clean_up_tokenization (tokenization_utils_base.py), applied to the whole string
# (tokenizer.decode.clean_up_tokenization_spaces).
CLEANUP_REPLACEMENTS = (
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
    (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
)

TextInput = str | bytes


def read_vocab_txt(path: str | os.PathLike) -> dict[str, int]:
    """Read vocab.txt: UTF-8, one token a line, id = 0-based line number (tokenizer.vocab.format); reject
    ambiguous files (tokenizer.vocab.ambiguous_lines, tokenizer.vocab.missing_or_empty)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"vocabulary file not found: {path}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not valid UTF-8 at byte {err.start}") from None
    if text.startswith("\ufeff"):
        raise ValueError(f"{path}: starts with a byte-order mark (U+FEFF); it would become part of token 0")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it is not an empty token
    if not lines:
        raise ValueError(f"{path}: the vocabulary is empty")
    return _vocab_from_tokens(lines, str(path))


def _vocab_from_tokens(tokens: Sequence[str], where: str) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        # HF's two loaders disagree on empty/whitespace-padded lines (Rust trims, Python keeps): refuse them.
        if token == "" or token != token.strip():
            raise ValueError(f"{where}: line {index + 1} is empty or has leading/trailing whitespace: {token!r}")
        if token in vocab:  # tokenizer.vocab.duplicates
            raise ValueError(f"{where}: duplicate token {token!r} on lines {vocab[token] + 1} and {index + 1}")
        vocab[token] = index
    return vocab


def read_tokenizer_json(path: str | os.PathLike) -> dict[str, int]:
    """Take the WordPiece vocabulary from tokenizer.json (HF v5 rebuilds the rest from its options:
    tokenizer.vocab.tokenizer_json, tokenizer.option.load_from_tokenizer_json)."""
    path = Path(path)
    try:
        blob = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"tokenizer file not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({err})") from None
    model = blob.get("model") if isinstance(blob, dict) else None
    if not isinstance(model, dict) or model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise ValueError(f"{path}: model is not a WordPiece model with a 'vocab' object")
    by_id: dict[int, str] = {}
    for token, index in model["vocab"].items():
        if not isinstance(index, int) or index in by_id:
            raise ValueError(f"{path}: model.vocab id {index!r} of {token!r} is not a unique integer")
        by_id[index] = token
    if sorted(by_id) != list(range(len(by_id))):
        raise ValueError(f"{path}: model.vocab ids are not 0..{len(by_id) - 1}")
    if not by_id:
        raise ValueError(f"{path}: the vocabulary is empty")
    return _vocab_from_tokens([by_id[i] for i in range(len(by_id))], f"{path} model.vocab")


def _as_text(value: Any, argument: str) -> str:
    """Accept str, or bytes that decode as UTF-8; name the argument otherwise (tokenizer.input.text_types)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{argument}: bytes are not valid UTF-8 at byte {err.start}") from None
    if not isinstance(value, str):
        raise TypeError(f"{argument}: expected str or UTF-8 bytes, got {type(value).__name__}")
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise ValueError(f"{argument}: lone surrogate U+{ord(char):04X} at index {index} is not Unicode text")
    return value


class BertTokenizer:
    """BERT WordPiece tokenizer with HF `BertTokenizer` (v5) defaults and call conventions."""

    def __init__(
        self,
        vocab: str | os.PathLike | dict[str, int],
        *,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        model_max_length: int = VERY_LARGE_INTEGER,
        padding_side: str = "right",
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
    ) -> None:
        if isinstance(vocab, dict):
            self.vocab = _vocab_from_tokens(sorted(vocab, key=vocab.__getitem__), "vocab")
            if self.vocab != vocab:
                raise ValueError("vocab: ids must be exactly 0..len(vocab)-1")
        elif Path(vocab).is_dir():
            raise ValueError(f"vocab: {vocab} is a directory; use BertTokenizer.from_pretrained()")
        elif str(vocab).endswith(".json"):
            self.vocab = read_tokenizer_json(vocab)
        else:
            self.vocab = read_vocab_txt(vocab)
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side: expected 'right' or 'left', got {padding_side!r}")
        self.do_lower_case = bool(do_lower_case)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.model_max_length = int(model_max_length)
        self.padding_side = padding_side
        # tokenizer.special.pad, tokenizer.special.unk, tokenizer.special.cls, tokenizer.special.sep,
        # tokenizer.special.mask
        self.special_tokens = {
            "pad_token": pad_token, "unk_token": unk_token, "cls_token": cls_token,
            "sep_token": sep_token, "mask_token": mask_token,
        }
        missing = [t for t in self.special_tokens.values() if t not in self.vocab]
        if missing:  # tokenizer.vocab.special_tokens_required
            raise ValueError(f"{'vocab' if isinstance(vocab, dict) else vocab}: missing special tokens {missing}")
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.backend = self._build_backend()

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **overrides: Any) -> BertTokenizer:
        """Load a saved tokenizer directory: options from tokenizer_config.json, vocab from tokenizer.json
        (preferred, as HF v5) or vocab.txt. Keyword arguments override the config."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"from_pretrained: {directory} is not a directory")
        config_path = directory / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        keys = ("do_lower_case", "strip_accents", "tokenize_chinese_chars", "model_max_length", *SPECIAL_ROLES)
        options = {k: config[k] for k in keys if k in config and (config[k] is not None or k == "strip_accents")}
        for role in SPECIAL_ROLES:  # saved AddedToken objects carry the string in "content"
            if isinstance(options.get(role), dict):
                options[role] = options[role]["content"]
        options.update(overrides)
        for name in ("tokenizer.json", "vocab.txt"):
            if (directory / name).is_file():
                return cls(directory / name, **options)
        raise ValueError(f"from_pretrained: {directory} has neither tokenizer.json nor vocab.txt")

    def _build_backend(self) -> Tokenizer:
        unk, cls, sep = (self.special_tokens[k] for k in ("unk_token", "cls_token", "sep_token"))
        # tokenizer.wordpiece.greedy, tokenizer.wordpiece.unknown_word (tokenizer.special.unk); words longer
        # than 100 characters are [UNK] (tokenizer.wordpiece.max_input_chars_per_word,
        # tokenizer.option.max_input_chars_per_word).
        backend = Tokenizer(WordPiece(self.vocab, unk_token=unk, continuing_subword_prefix="##",
                                      max_input_chars_per_word=100))
        # tokenizer.normalizer.order: clean_text (tokenizer.normalizer.clean_text.removed,
        # tokenizer.normalizer.clean_text.whitespace), CJK spacing (tokenizer.normalizer.cjk,
        # tokenizer.option.tokenize_chinese_chars), accents (tokenizer.normalizer.strip_accents,
        # tokenizer.option.strip_accents), lower case (tokenizer.normalizer.lowercase,
        # tokenizer.option.do_lower_case); nothing else (tokenizer.normalizer.no_unicode_normalization).
        # Character classes come from the Rust crate's Unicode 8.0 tables (tokenizer.unicode.tables).
        backend.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=self.tokenize_chinese_chars,
            strip_accents=self.strip_accents, lowercase=self.do_lower_case,
        )
        # tokenizer.pre_tokenizer.whitespace, tokenizer.pre_tokenizer.punctuation
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        # tokenizer.template.single, tokenizer.template.pair, tokenizer.template.token_type_ids
        # (tokenizer.special.cls, tokenizer.special.sep)
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.vocab[cls]), (sep, self.vocab[sep])],
        )
        backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # tokenizer.decode.wordpiece_cleanup
        # tokenizer.special.in_text: special tokens in raw text are matched verbatim before normalisation.
        backend.add_special_tokens([AddedToken(t, normalized=False, special=True)
                                    for t in self.special_tokens.values()])
        return backend

    # -- vocabulary -----------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    @property
    def pad_token_id(self) -> int:
        return self.vocab[self.special_tokens["pad_token"]]

    @property
    def unk_token_id(self) -> int:
        return self.vocab[self.special_tokens["unk_token"]]

    @property
    def cls_token_id(self) -> int:
        return self.vocab[self.special_tokens["cls_token"]]

    @property
    def sep_token_id(self) -> int:
        return self.vocab[self.special_tokens["sep_token"]]

    @property
    def mask_token_id(self) -> int:
        return self.vocab[self.special_tokens["mask_token"]]

    @property
    def all_special_ids(self) -> list[int]:
        return [self.vocab[t] for t in self.special_tokens.values()]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Unknown tokens map to the [UNK] id (as HF; tokenizer.decode.convert_tokens_to_ids)."""
        unk = self.unk_token_id
        if isinstance(tokens, str):
            return self.vocab.get(tokens, unk)
        return [self.vocab.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        if isinstance(ids, int | np.integer):
            return self.ids_to_tokens[self._check_ids([int(ids)], "ids")[0]]
        return [self.ids_to_tokens[i] for i in self._check_ids(ids, "ids")]

    def _check_ids(self, ids: Sequence[int] | np.ndarray, argument: str) -> list[int]:
        array = np.asarray(ids)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise ValueError(f"{argument}: expected a 1-D sequence of int token ids, got {ids!r}")
        values = array.tolist()
        for position, value in enumerate(values):
            if not 0 <= value < len(self.vocab):  # tokenizer.decode.invalid_ids
                raise ValueError(f"{argument}[{position}] = {value} is not a token id in [0, {len(self.vocab)})")
        return values

    # -- pipeline stages (for inspection and port debugging) ------------------------------------------------

    def normalize(self, text: TextInput) -> str:
        return self.backend.normalizer.normalize_str(_as_text(text, "text"))

    def pre_tokenize(self, text: TextInput) -> list[tuple[str, tuple[int, int]]]:
        """Words with (start, end) character offsets into the normalised text."""
        return self.backend.pre_tokenizer.pre_tokenize_str(self.normalize(text))

    def tokenize(self, text: TextInput, pair: TextInput | None = None) -> list[str]:
        """WordPiece tokens of text (then pair), without special tokens."""
        encoding = self.backend.encode(_as_text(text, "text"), None if pair is None else _as_text(pair, "pair"),
                                       add_special_tokens=False)
        return list(encoding.tokens)

    # -- encoding -------------------------------------------------------------------------------------------

    def __call__(
        self,
        text: TextInput | Sequence[TextInput],
        text_pair: TextInput | Sequence[TextInput] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool = True,
        return_attention_mask: bool = True,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
    ) -> dict[str, Any]:
        """Encode one text, a (text, text_pair), or batches of them; returns HF's field names.

        Lists of ints (a list of lists for a batch), or int64 arrays [batch, seq] with return_tensors="np".
        """
        batched = not isinstance(text, str | bytes)
        texts, pairs = _collect_inputs(text, text_pair, batched)
        n_special = (3 if pairs is not None else 2) if add_special_tokens else 0  # tokenizer.template.*
        pad_mode = _padding_mode(padding)
        strategy = _truncation_strategy(truncation, max_length, pad_mode)
        _check_max_length(max_length)
        limit = max_length
        if limit is None and self.model_max_length < VERY_LARGE_INTEGER:
            limit = self.model_max_length  # HF's fallback: tokenizer.option.model_max_length
        if pad_mode == "max_length" and limit is None:  # tokenizer.padding.max_length_without_limit
            raise ValueError("padding='max_length' needs max_length (the tokenizer has no model_max_length)")
        if strategy is not None and limit is not None:
            # tokenizer.truncation.below_special_tokens; limit == n_special keeps only the template tokens
            # (tokenizer.truncation.zero_budget).
            if limit < n_special:
                # HF fast wraps around (returns everything) and legacy drops every content token: refuse.
                raise ValueError(f"max_length={limit} is smaller than the {n_special} special tokens added")
            if strategy == "only_second" and pairs is None:  # tokenizer.truncation.only_second
                raise ValueError("truncation='only_second' needs text_pair")
        side = self.padding_side if padding_side is None else padding_side  # tokenizer.padding.side
        if side not in ("right", "left"):
            raise ValueError(f"padding_side: expected 'right' or 'left', got {side!r}")
        encodings = self._encode(texts, pairs, add_special_tokens, strategy if limit is not None else None,
                                 limit, pad_mode, side)
        # tokenizer.template.field_order; tokenizer.template.attention_mask,
        # tokenizer.template.special_tokens_mask, tokenizer.wordpiece.offsets.
        fields: dict[str, list] = {"input_ids": [e.ids for e in encodings]}
        if return_token_type_ids:
            fields["token_type_ids"] = [e.type_ids for e in encodings]
        if return_attention_mask:
            fields["attention_mask"] = [e.attention_mask for e in encodings]
        if return_special_tokens_mask:
            fields["special_tokens_mask"] = [e.special_tokens_mask for e in encodings]
        if return_offsets_mapping:
            fields["offset_mapping"] = [[tuple(o) for o in e.offsets] for e in encodings]
        return _format_encodings(fields, batched, return_tensors)

    def _encode(
        self,
        texts: list[str],
        pairs: list[str] | None,
        add_special_tokens: bool,
        strategy: str | None,
        limit: int | None,
        pad_mode: str | None,
        side: str,
    ) -> list[Encoding]:
        """The backend's encodings, truncated (`strategy` to `limit`) and padded (`pad_mode` on `side`)."""
        # The backend's truncation/padding are per-call settings here, set and cleared around each call
        # (so one tokenizer must not be shared between threads).
        backend = self.backend
        inputs = texts if pairs is None else list(zip(texts, pairs))
        try:
            if strategy is None:
                backend.no_truncation()
            else:  # tokenizer.truncation.longest_first, tokenizer.truncation.only_first (and only_second)
                backend.enable_truncation(limit, strategy=strategy, direction="right")
            if pad_mode is None:
                backend.no_padding()
            else:  # tokenizer.padding.values, tokenizer.special.pad
                backend.enable_padding(direction=side, pad_id=self.pad_token_id, pad_type_id=0,
                                       pad_token=self.special_tokens["pad_token"],
                                       length=limit if pad_mode == "max_length" else None)
            try:
                # add_special_tokens=False: no template tokens (tokenizer.template.add_special_tokens_false)
                return backend.encode_batch(inputs, add_special_tokens=add_special_tokens)
            except Exception as err:
                if "Truncation error" not in str(err):
                    raise
                # tokenizer.truncation.impossible
                raise ValueError(f"truncation={strategy!r}, max_length={limit}: {_truncation_culprit(backend, inputs)}"
                                 f" ({err})") from None
        finally:
            backend.no_truncation()
            backend.no_padding()

    # -- decoding -------------------------------------------------------------------------------------------

    def decode(
        self, ids: int | Sequence[int] | np.ndarray, skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool = False,
    ) -> str:
        """WordPiece decoder (always removes the space before . ? ! ,); the optional whole-string clean-up
        is HF's clean_up_tokenization, off by default for the v5 BertTokenizer.

        tokenizer.decode.wordpiece, tokenizer.decode.wordpiece_cleanup, tokenizer.decode.skip_special_tokens,
        tokenizer.decode.clean_up_tokenization_spaces."""
        ids = [ids] if isinstance(ids, int | np.integer) else ids
        text = self.backend.decode(self._check_ids(ids, "ids"), skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces:
            for old, new in CLEANUP_REPLACEMENTS:
                text = text.replace(old, new)
        return text

    def batch_decode(
        self, sequences: Sequence[Sequence[int]] | np.ndarray, skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool = False,
    ) -> list[str]:
        """`decode` of each row."""
        return [self.decode(ids, skip_special_tokens=skip_special_tokens,
                            clean_up_tokenization_spaces=clean_up_tokenization_spaces) for ids in sequences]


def _collect_inputs(text, text_pair, batched: bool) -> tuple[list[str], list[str] | None]:
    if not batched:
        pair = None if text_pair is None else _as_text(text_pair, "text_pair")
        # HF v5 BertTokenizer tests `if text_pair`: an empty pair string means "no pair" (single calls only;
        # tokenizer.template.empty_text_pair).
        return [_as_text(text, "text")], ([pair] if pair else None)
    if not isinstance(text, list | tuple):
        raise TypeError(f"text: expected str, bytes or a list of them, got {type(text).__name__}")
    texts = [_as_text(t, f"text[{i}]") for i, t in enumerate(text)]
    if text_pair is None:
        return texts, None
    # tokenizer.input.batch_pair_length
    if isinstance(text_pair, str | bytes) or not isinstance(text_pair, list | tuple) or len(text_pair) != len(texts):
        raise ValueError("text_pair: with a batch of texts, pass a list of the same length")
    return texts, [_as_text(t, f"text_pair[{i}]") for i, t in enumerate(text_pair)]


def _padding_mode(padding: bool | str) -> str | None:
    """tokenizer.padding.strategies; an unknown value is an error (tokenizer.input.options)."""
    if padding is False or padding == "do_not_pad":
        return None
    if padding is True or padding == "longest":
        return "longest"
    if padding == "max_length":
        return "max_length"
    raise ValueError(f"padding: expected False, True, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")


def _truncation_strategy(truncation: bool | str | None, max_length: int | None, pad_mode: str | None) -> str | None:
    """tokenizer.truncation.activation; an unknown value is an error (tokenizer.input.options)."""
    if truncation is None:
        # HF: a max_length with neither padding nor truncation asked for means longest_first truncation.
        return "longest_first" if max_length is not None and pad_mode is None else None
    if truncation is False or truncation == "do_not_truncate":
        return None
    if truncation is True:
        return "longest_first"
    if truncation in TRUNCATION_STRATEGIES:
        return truncation
    raise ValueError(f"truncation: expected a bool, None or one of {TRUNCATION_STRATEGIES}, got {truncation!r}")


def _check_max_length(max_length: int | None) -> None:
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0):
        raise ValueError(f"max_length: expected a non-negative int or None, got {max_length!r}")


def _truncation_culprit(backend: Tokenizer, inputs: list) -> str:
    """Name the first batch item that cannot be truncated (encode_batch does not say which)."""
    for index, item in enumerate(inputs):
        try:
            backend.encode(*item) if isinstance(item, tuple) else backend.encode(item)
        except Exception:
            return f"batch item {index} has too few tokens in the sequence to truncate"
    return "a sequence has too few tokens to truncate"


def _format_encodings(fields: dict[str, list], batched: bool, return_tensors: str | None) -> dict[str, Any]:
    """The fields as lists (a single text's row unwrapped) or, with return_tensors="np", int64 arrays."""
    if return_tensors is None:
        return fields if batched else {k: v[0] for k, v in fields.items()}
    if return_tensors != "np":
        raise ValueError(f"return_tensors: only None (lists) or 'np' are supported, got {return_tensors!r}")
    lengths = {len(row) for row in fields["input_ids"]}
    if len(lengths) > 1:  # tokenizer.padding.ragged_tensors
        raise ValueError(f"return_tensors='np': sequences have different lengths {sorted(lengths)}; pass padding=True")
    width = lengths.pop() if lengths else 0
    out = {}
    for key, rows in fields.items():
        shape = (len(rows), width, 2) if key == "offset_mapping" else (len(rows), width)
        out[key] = np.asarray(rows, dtype=np.int64).reshape(shape)
    return out
