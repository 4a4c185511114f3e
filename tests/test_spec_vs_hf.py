"""The spec agrees with Hugging Face transformers: config defaults, forward signatures, outputs and their
shapes, state-dict keys and saved-file keys. Expectations come from HF itself, never from the spec."""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import os
import types
import typing

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed: spec-vs-HF checks skipped"
)
torch = pytest.importorskip("torch", reason="torch is not installed")
safetensors_torch = pytest.importorskip("safetensors.torch", reason="safetensors is not installed")

from transformers.models.bert import modeling_bert  # noqa: E402

from bert_conformance.spec import load_spec  # noqa: E402
from bert_conformance.spec.node import thaw  # noqa: E402
from bert_conformance.spec.shapes import evaluate  # noqa: E402

transformers.logging.set_verbosity_error()

SPEC = load_spec()
HEADS = list(SPEC.heads.heads)
TINY = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    attn_implementation="eager",
)
DIMS = dict(batch=2, seq=5, past_seq=0, enc_seq=4, num_choices=3)
INHERITED_ATTR = {"attn_implementation": "_attn_implementation"}


def hf_class(head: str) -> type:
    return getattr(transformers, head)


def build(head: str, **overrides: typing.Any) -> typing.Any:
    config = transformers.BertConfig(**{**TINY, **overrides})
    torch.manual_seed(0)
    return hf_class(head)(config).eval()


# --- config ------------------------------------------------------------------------------------------------


def _type_names(annotation: typing.Any) -> set[str]:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    names = {int: "int", float: "float", str: "str", bool: "bool", type(None): "null"}
    return {names.get(a, "list[int]" if typing.get_origin(a) is list else repr(a)) for a in args}


def test_config_fields_in_hf_declaration_order():
    assert [f.name for f in SPEC.config.fields] == list(transformers.BertConfig.__annotations__)


@pytest.mark.parametrize("field", SPEC.config.fields, ids=lambda f: f.id)
def test_config_field_type_matches_hf(field):
    assert set(field.type) == _type_names(transformers.BertConfig.__annotations__[field.name])


@pytest.mark.parametrize("field", SPEC.config.fields + SPEC.config.inherited_fields, ids=lambda f: f.id)
def test_config_default_matches_hf(field):
    actual = getattr(transformers.BertConfig(), INHERITED_ATTR.get(field.name, field.name))
    expected = thaw(field.default)
    assert actual == expected and type(actual) is type(expected), (field.name, actual)


def test_activation_names_are_hf_act2fn_keys():
    from transformers.activations import ACT2CLS

    assert {a.name for a in SPEC.config.activations} == set(ACT2CLS)


@pytest.mark.parametrize("activation", [a for a in SPEC.config.activations if a.required], ids=lambda a: a.id)
def test_required_activation_builds_in_hf(activation):
    model = build("BertModel", hidden_act=activation.name)
    out = model(input_ids=torch.tensor([[1, 2, 3]])).last_hidden_state
    assert torch.isfinite(out).all()


# One violating config (or forward) per constraint HF enforces; a new enforced constraint needs a case here.
def _violate(constraint_id: str) -> None:
    if constraint_id == "config.constraint.hidden_size_divisible_by_heads":
        build("BertModel", hidden_size=30, num_attention_heads=4)
    elif constraint_id == "config.constraint.cross_attention_requires_decoder":
        build("BertModel", add_cross_attention=True, is_decoder=False)
    elif constraint_id == "config.constraint.single_label_needs_two_labels":
        transformers.BertConfig(problem_type="single_label_classification", num_labels=1)
    elif constraint_id == "config.constraint.qa_two_labels":
        build("BertForQuestionAnswering", num_labels=3)(input_ids=torch.tensor([[1, 2, 3]]))
    elif constraint_id == "config.constraint.pad_token_in_vocab":
        build("BertModel", vocab_size=10, pad_token_id=10)
    elif constraint_id == "config.constraint.hidden_dropout_range":
        build("BertModel", hidden_dropout_prob=2.0)
    elif constraint_id == "config.constraint.attention_dropout_range":
        build("BertModel", attention_probs_dropout_prob=2.0)
    else:
        raise AssertionError(f"no violating case for {constraint_id}: add one to _violate")


@pytest.mark.parametrize(
    "constraint", [c for c in SPEC.config.constraints if c.enforced_at != "none"], ids=lambda c: c.id
)
def test_enforced_constraint_raises_the_declared_error(constraint):
    with pytest.raises(getattr(builtins, constraint.error)):
        _violate(constraint.id)


# --- heads: signatures and outputs -------------------------------------------------------------------------


@pytest.mark.parametrize("head", HEADS)
def test_forward_arguments_match_hf_signature(head):
    params = [
        p
        for p in inspect.signature(hf_class(head).forward).parameters.values()
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    spec_head = SPEC.heads.head(head)
    assert [p.name for p in params] == list(spec_head.argument_names)
    assert [p.default for p in params] == [a.default for a in spec_head.arguments]


@pytest.mark.parametrize("head", HEADS)
def test_output_fields_match_hf_output_class(head):
    spec_head = SPEC.heads.head(head)
    cls = getattr(transformers.modeling_outputs, spec_head.output_class, None) or getattr(
        modeling_bert, spec_head.output_class
    )
    assert [f.name for f in dataclasses.fields(cls)] == list(spec_head.output_names)


@pytest.mark.parametrize("head", HEADS)
def test_pooler_flag_matches_hf(head):
    model = build(head)
    base = model if head == "BertModel" else model.bert
    assert (base.pooler is not None) == SPEC.heads.head(head).pooler


@pytest.mark.parametrize("head", HEADS)
def test_head_dropout_sites_match_hf(head):
    model = build(head, classifier_dropout=0.25)
    head_dropout = getattr(model, "dropout", None)
    sites = SPEC.heads.head(head).dropout_sites
    assert (head_dropout is not None) == bool(sites)
    if sites:
        assert head_dropout.p == 0.25  # classifier_dropout wins over hidden_dropout_prob


def _labels_high(head: str, arg: str, env: dict[str, int]) -> int:
    if arg in ("start_positions", "end_positions"):
        return env["seq"]
    if arg == "next_sentence_label" or head == "BertForNextSentencePrediction":
        return 2
    if head == "BertForMultipleChoice":
        return env["num_choices"]
    if head in ("BertForSequenceClassification", "BertForTokenClassification"):
        return env["num_labels"]
    return env["vocab_size"]


def _inputs(head: str, args_given: typing.Iterable[str], env: dict[str, int]) -> dict[str, typing.Any]:
    spec_head = SPEC.heads.head(head)
    inputs = {
        "input_ids": torch.randint(1, env["vocab_size"], evaluate(spec_head.argument("input_ids").shape, env))
    }
    for arg in args_given:
        shape = evaluate(spec_head.argument(arg).shape, env)
        inputs[arg] = torch.randint(0, _labels_high(head, arg, env), shape)
    return inputs


def _check_shape(name: str, value: typing.Any, output: typing.Any, env: dict[str, int]) -> None:
    expected = evaluate(output.shape, env)
    if output.kind == "tensor":
        assert tuple(value.shape) == expected, name
    elif output.kind == "tuple":
        assert len(value) == evaluate([output.length], env)[0], name
        assert all(tuple(v.shape) == expected for v in value), name
    else:  # cache: per-layer self-attention keys and values
        layers = getattr(value, "self_attention_cache", value).layers
        assert len(layers) == evaluate([output.length], env)[0], name
        assert all(tuple(layer.keys.shape) == expected == tuple(layer.values.shape) for layer in layers), name


EXAMPLES = [(h, i) for h in HEADS for i in range(len(SPEC.heads.head(h).tuple_examples))]


@pytest.mark.parametrize("head,index", EXAMPLES, ids=[f"{h}-{i}" for h, i in EXAMPLES])
def test_tuple_example_and_output_shapes_match_hf(head, index):
    example = SPEC.heads.head(head).tuple_examples[index]
    model = build(head, **example.config)
    env = {**SPEC.env(**{**TINY, **example.config}), **DIMS}
    inputs = _inputs(head, example.args_given, env)
    with torch.no_grad():
        as_dict = model(**inputs, **example.kwargs)
        as_tuple = model(**inputs, **example.kwargs, return_dict=False)
    present = [name for name, value in as_dict.items() if value is not None]
    assert present == list(example.tuple)
    assert len(as_tuple) == len(example.tuple)
    for name in present:
        _check_shape(name, as_dict[name], SPEC.heads.head(head).output(name), env)


@pytest.mark.parametrize("head", HEADS)
def test_all_optional_outputs_have_spec_shapes(head):
    """hidden_states and attentions (eager) have the declared lengths and shapes."""
    model = build(head)
    env = {**SPEC.env(**TINY), **DIMS}
    with torch.no_grad():
        out = model(**_inputs(head, [], env), output_hidden_states=True, output_attentions=True)
    for name in ("hidden_states", "attentions"):
        _check_shape(name, out[name], SPEC.heads.head(head).output(name), env)


# --- parameters --------------------------------------------------------------------------------------------

PARAM_CASES = {
    "default": {},
    "untied": {"tie_word_embeddings": False},
    "decoder_cross": {"is_decoder": True, "add_cross_attention": True, "num_labels": 3},
}


def _hf_keys(model: typing.Any) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("case", PARAM_CASES)
@pytest.mark.parametrize("head", HEADS)
def test_parameter_templates_expand_to_hf_state_dict_and_saved_file(head, case, tmp_path):
    overrides = PARAM_CASES[case]
    if head == "BertForQuestionAnswering":
        overrides = {k: v for k, v in overrides.items() if k != "num_labels"}
    model = build(head, **overrides)
    env = SPEC.env(**{**TINY, **overrides})
    assert SPEC.parameters.expand(head, env) == _hf_keys(model)
    model.save_pretrained(tmp_path)
    saved = safetensors_torch.load_file(str(tmp_path / "model.safetensors"))
    assert SPEC.parameters.expand(head, env, saved=True) == {k: tuple(v.shape) for k, v in saved.items()}


def test_bert_model_without_pooler_matches_hf():
    config = transformers.BertConfig(**TINY)
    model = transformers.BertModel(config, add_pooling_layer=False)
    assert SPEC.parameters.expand("BertModel", SPEC.env(**TINY), pooler=False) == _hf_keys(model)


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("head", ["BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM"])
def test_tied_parameters_share_storage_exactly_when_spec_says(head, tie):
    model = build(head, tie_word_embeddings=tie)
    named = dict(model.named_parameters(remove_duplicate=False))
    active = {t.id for t in SPEC.parameters.active_ties(head, SPEC.env(**TINY, tie_word_embeddings=tie))}
    for tie_spec in SPEC.parameters.tied:
        shared = named[tie_spec.target] is named[tie_spec.source]
        assert shared == (tie_spec.id in active), tie_spec.id


@pytest.mark.parametrize("buffer", SPEC.parameters.buffers, ids=lambda b: b.id)
def test_buffers_are_non_persistent_with_spec_shape(buffer):
    model = build("BertModel")
    buffers = dict(model.named_buffers())
    assert tuple(buffers[buffer.name].shape) == evaluate(buffer.shape, SPEC.env(**TINY))
    assert (buffer.name in model.state_dict()) == buffer.persistent


# --- labels ------------------------------------------------------------------------------------------------


def test_ignore_index_is_torch_cross_entropy_default():
    assert SPEC.labels.clause("labels.ignore_index").ignore_index == torch.nn.CrossEntropyLoss().ignore_index


def test_mlm_masking_matches_hf_data_collator_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(transformers.DataCollatorForLanguageModeling)}
    clause = SPEC.labels.clause("labels.data.mlm_masking")
    assert clause.mask_probability == fields["mlm_probability"]
    assert clause.replace["mask"] == fields["mask_replace_prob"]
    assert clause.replace["random"] == fields["random_replace_prob"]
    assert clause.replace["keep"] == pytest.approx(
        1 - fields["mask_replace_prob"] - fields["random_replace_prob"]
    )


def test_lm_loss_shift_matches_hf():
    clause = SPEC.labels.clause("labels.lm.shift")
    model = build("BertLMHeadModel", is_decoder=True)
    ids = torch.randint(0, 99, (2, 6))
    with torch.no_grad():
        out = model(input_ids=ids, labels=ids)
    s = clause.shift
    expected = torch.nn.functional.cross_entropy(
        out.logits[:, :-s].reshape(-1, 99).float(), ids[:, s:].reshape(-1)
    )
    assert torch.allclose(out.loss, expected, rtol=0, atol=1e-6)
    assert out.cache is None  # labels.lm.labels_disable_cache


@pytest.mark.parametrize(
    "head,args", [("BertForPreTraining", ["labels"]), ("BertForQuestionAnswering", ["start_positions"])]
)
def test_loss_requires_every_listed_argument(head, args):
    clause = next(c for c in SPEC.labels.losses if head in (c.heads or ()) and c.requires)
    assert set(args) < set(clause.requires)
    env = {**SPEC.env(**TINY), **DIMS}
    with torch.no_grad():
        assert build(head)(**_inputs(head, args, env)).loss is None
        assert build(head)(**_inputs(head, clause.requires, env)).loss is not None


def test_qa_clamp_and_all_ignored_match_hf():
    clause = SPEC.labels.clause("labels.qa.clamp")
    model = build("BertForQuestionAnswering")
    ids = torch.randint(1, 99, (2, 5))
    seq = evaluate([clause.clamp[1]], {"seq": 5})[0]
    with torch.no_grad():
        ignored = model(
            input_ids=ids, start_positions=torch.tensor([seq, seq + 3]), end_positions=torch.tensor([1, 2])
        )
        negative = model(
            input_ids=ids, start_positions=torch.tensor([-4, 0]), end_positions=torch.tensor([1, 2])
        )
        zero = model(input_ids=ids, start_positions=torch.tensor([0, 0]), end_positions=torch.tensor([1, 2]))
    assert torch.isnan(ignored.loss)  # labels.qa.all_ignored
    assert negative.loss == zero.loss  # negative positions clamp to 0, a real target


@pytest.mark.parametrize(
    "num_labels,dtype", [(1, torch.float32), (3, torch.int64), (3, torch.int32), (3, torch.float32)]
)
def test_problem_type_inference_matches_hf(num_labels, dtype):
    rules = SPEC.labels.clause("labels.seqcls.problem_type.inference").rules
    if num_labels == 1:
        expected = rules[0].problem_type
    elif dtype in (torch.int64, torch.int32):
        expected = rules[1].problem_type
    else:
        expected = rules[2].problem_type
    model = build("BertForSequenceClassification", num_labels=num_labels)
    labels = torch.zeros((2, num_labels) if expected.startswith("multi") else (2,), dtype=dtype)
    try:
        model(input_ids=torch.tensor([[1, 2], [3, 4]]), labels=labels)
    except RuntimeError:
        pass  # int32 targets pick single-label and then fail in cross-entropy; the choice is what we test
    assert model.config.problem_type == expected
