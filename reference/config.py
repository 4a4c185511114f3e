"""BertConfig: the Hugging Face Transformers v5 BERT configuration, defaults written in code.

The 20 BERT fields come first, in the order of `transformers.BertConfig`, then the inherited generic fields that
change what the model computes or returns. Unknown keys read from a config.json are kept in `extra` and written
back unchanged, so a config round-trips through `from_dict(d).to_dict()`.

Validation is stricter than transformers (which accepts, e.g., `problem_type="foo"` or a dropout of 2 and fails
later or never): every bad value raises one `ValueError` that names the field.
"""

from __future__ import annotations

import json
import os
from dataclasses import InitVar, dataclass, field, fields
from typing import Any

from .activations import ACT2FN

ATTN_IMPLEMENTATIONS = ("eager", "sdpa")
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

# Keys transformers writes into config.json that carry no behaviour here; kept in `extra` when read.
_HF_BOOKKEEPING_KEYS = ("model_type", "architectures", "transformers_version", "dtype", "_name_or_path")


@dataclass(eq=True)
class BertConfig:
    """Configuration of a BERT model (field names, order and defaults of transformers v5)."""

    # config.default.*: HF v5 defaults, each field's id on its line.
    vocab_size: int = 30522  # config.default.vocab_size
    hidden_size: int = 768  # config.default.hidden_size
    num_hidden_layers: int = 12  # config.default.num_hidden_layers
    num_attention_heads: int = 12  # config.default.num_attention_heads
    intermediate_size: int = 3072  # config.default.intermediate_size
    hidden_act: str = "gelu"  # config.default.hidden_act
    hidden_dropout_prob: float = 0.1  # config.default.hidden_dropout_prob
    attention_probs_dropout_prob: float = 0.1  # config.default.attention_probs_dropout_prob
    max_position_embeddings: int = 512  # config.default.max_position_embeddings
    type_vocab_size: int = 2  # config.default.type_vocab_size
    initializer_range: float = 0.02  # config.default.initializer_range
    layer_norm_eps: float = 1e-12  # config.default.layer_norm_eps
    pad_token_id: int | None = 0  # config.default.pad_token_id
    use_cache: bool = True  # config.default.use_cache
    classifier_dropout: float | None = None  # config.default.classifier_dropout
    is_decoder: bool = False  # config.default.is_decoder
    add_cross_attention: bool = False  # config.default.add_cross_attention
    bos_token_id: int | None = None  # config.default.bos_token_id
    eos_token_id: int | list[int] | None = None  # config.default.eos_token_id
    tie_word_embeddings: bool = True  # config.default.tie_word_embeddings
    # Inherited from transformers' PreTrainedConfig: the ones that change behaviour.
    id2label: dict[int, str] | None = None  # config.default.id2label
    label2id: dict[str, int] | None = None  # config.default.label2id
    problem_type: str | None = None  # config.default.problem_type
    output_hidden_states: bool | int | list[int] = False  # config.default.output_hidden_states
    output_attentions: bool = False  # config.default.output_attentions
    return_dict: bool = True  # config.default.return_dict
    chunk_size_feed_forward: int = 0  # config.default.chunk_size_feed_forward
    # config.default.attn_implementation: transformers resolves its default (None) to "sdpa" for BERT.
    attn_implementation: str = "sdpa"
    # Unknown config.json keys, kept and written back; e.g. the removed position_embedding_type, which changes
    # nothing (config.behaviour.position_embedding_type.removed).
    extra: dict[str, Any] = field(default_factory=dict)
    # config.default.num_labels: then a property (below), len(id2label) (config.behaviour.num_labels.id2label)
    num_labels: InitVar[int | None] = None

    def __post_init__(self, num_labels: int | None) -> None:
        if self.id2label is None:  # config.behaviour.num_labels.id2label: {i: "LABEL_i"}, 2 labels by default
            if num_labels is None:
                num_labels = 2
            _check_int("num_labels", num_labels, minimum=1)
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            if self.label2id is None:
                self.label2id = {label: i for i, label in self.id2label.items()}
        else:  # as transformers: a given id2label leaves label2id as given (possibly None)
            self.id2label = _int_keys("id2label", self.id2label)
            if num_labels is not None and num_labels != len(self.id2label):
                raise ValueError(f"num_labels={num_labels} disagrees with id2label, which has {len(self.id2label)} labels")
        self.validate()

    # -- num_labels is derived from id2label, as in transformers -------------------------------------------
    def _get_num_labels(self) -> int:
        return len(self.id2label)

    def _set_num_labels(self, value: int) -> None:
        _check_int("num_labels", value, minimum=1)
        if value != len(self.id2label):
            self.id2label = {i: f"LABEL_{i}" for i in range(value)}
            self.label2id = {label: i for i, label in self.id2label.items()}

    # -- validation ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the first invalid field.

        Types are checked as transformers' strict dataclass does (config.behaviour.strict_types); value
        ranges too, which transformers leaves to building the model
        (config.behaviour.hidden_size_check_at_model_init).
        """
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            _check_int(name, getattr(self, name), minimum=1)  # config.constraint.positive_sizes
        _check_int("chunk_size_feed_forward", self.chunk_size_feed_forward, minimum=0)
        # config.constraint.hidden_size_divisible_by_heads
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if not isinstance(self.hidden_act, str) or self.hidden_act not in ACT2FN:
            raise ValueError(f"hidden_act={self.hidden_act!r} is not supported; choose one of {sorted(ACT2FN)}")
        # config.constraint.hidden_dropout_range, config.constraint.attention_dropout_range
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            _check_probability(name, getattr(self, name))
        if self.classifier_dropout is not None:
            _check_probability("classifier_dropout", self.classifier_dropout)
        _check_float("initializer_range", self.initializer_range, positive=False)
        _check_float("layer_norm_eps", self.layer_norm_eps, positive=True)
        if self.pad_token_id is not None:
            _check_int("pad_token_id", self.pad_token_id, minimum=0)
            if self.pad_token_id >= self.vocab_size:  # config.constraint.pad_token_in_vocab
                raise ValueError(f"pad_token_id ({self.pad_token_id}) must be < vocab_size ({self.vocab_size})")
        for name in ("bos_token_id",):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=0)
        eos = self.eos_token_id
        for token in eos if isinstance(eos, list) else [] if eos is None else [eos]:
            _check_int("eos_token_id", token, minimum=0)
        for name in ("use_cache", "is_decoder", "add_cross_attention", "tie_word_embeddings", "output_attentions",
                     "return_dict"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        _check_output_hidden_states(self.output_hidden_states)
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type={self.problem_type!r} is not one of {PROBLEM_TYPES} (or None)")
        # config.constraint.single_label_needs_two_labels
        if self.problem_type == "single_label_classification" and self.num_labels == 1:
            raise ValueError('problem_type="single_label_classification" requires num_labels > 1')
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"attn_implementation={self.attn_implementation!r} is not one of {ATTN_IMPLEMENTATIONS}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {type(self.extra).__name__}")
        clashes = sorted(set(self.extra) & {f.name for f in fields(self)})
        if clashes:
            raise ValueError(f"extra must not hold config fields: {', '.join(clashes)}")

    # -- (de)serialisation ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> BertConfig:
        """Build from a transformers config dict (config.json); unknown keys go to `extra`."""
        if not isinstance(config, dict):
            raise ValueError(f"config must be a dict, got {type(config).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {key: value for key, value in config.items() if key in known}
        extra = dict(config.get("extra", {}))
        extra.update({key: value for key, value in config.items() if key not in known and key not in ("extra", "num_labels")})
        if kwargs.get("attn_implementation") is None:
            kwargs.pop("attn_implementation", None)
        return cls(**kwargs, extra=extra, num_labels=config.get("num_labels"))

    def to_dict(self) -> dict[str, Any]:
        """All fields plus the kept unknown keys, JSON-ready except for id2label's int keys (as transformers)."""
        out = {f.name: _copy(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
        out.update(_copy(self.extra))
        return out

    def to_hf_dict(self, architectures: list[str] | None = None) -> dict[str, Any]:
        """The config.json transformers writes: BERT fields always, generic fields only when not default."""
        out: dict[str, Any] = {key: value for key, value in _copy(self.extra).items()}
        defaults = BertConfig()
        for f in fields(self):
            if f.name in ("extra", "attn_implementation"):
                continue
            value = getattr(self, f.name)
            if f.name in _GENERIC_FIELDS and value == getattr(defaults, f.name):
                continue
            out[f.name] = _copy(value)
        out["model_type"] = "bert"
        if architectures is not None:
            out["architectures"] = architectures
        if "id2label" in out:
            out["id2label"] = {str(i): label for i, label in out["id2label"].items()}
        return dict(sorted(out.items()))

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> BertConfig:
        """Read a config.json; errors name the file."""
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{os.fspath(path)}: not valid JSON ({error})") from error
        try:
            return cls.from_dict(config)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{os.fspath(path)}: {error}") from error

    def to_json_file(self, path: str | os.PathLike[str], *, hf_format: bool = False) -> None:
        """Write JSON atomically (temporary file, then rename): never a half-written file."""
        config = self.to_hf_dict() if hf_format else self.to_dict()
        if "id2label" in config:
            config["id2label"] = {str(i): label for i, label in config["id2label"].items()}
        _atomic_write_text(os.fspath(path), json.dumps(config, indent=2, sort_keys=True) + "\n")


BertConfig.num_labels = property(BertConfig._get_num_labels, BertConfig._set_num_labels)  # type: ignore[assignment]
_GENERIC_FIELDS = ("id2label", "label2id", "problem_type", "output_hidden_states", "output_attentions",
                   "return_dict", "chunk_size_feed_forward")


def _atomic_write_text(path: str, text: str) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _int_keys(name: str, mapping: Any) -> dict[int, str]:
    if not isinstance(mapping, dict):
        raise ValueError(f"{name} must be a dict, got {type(mapping).__name__}")
    try:
        return {int(key): value for key, value in mapping.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} keys must be integers (or integer strings): {error}") from error


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_float(name: str, value: Any, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")


def _check_probability(name: str, value: Any) -> None:
    _check_float(name, value, positive=False)
    if value > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _check_output_hidden_states(value: Any) -> None:
    if isinstance(value, bool):
        return
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise ValueError(f"output_hidden_states must be a bool, an int or a list of ints, got {value!r}")
