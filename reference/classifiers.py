"""The four classification heads: sequence, multiple choice, token classification, question answering.

Same conventions as heads.py: transformers' names, argument order, outputs and losses. The classifier dropout
is `classifier_dropout`, or `hidden_dropout_prob` when that is None (no dropout in the QA head).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from . import losses
from .config import BertConfig
from .heads import BertTaskModel
from .model import BertModel
from .outputs import (
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from .validation import check_tensor, reject_unknown_kwargs


class BertForSequenceClassification(BertTaskModel):
    """dropout(pooled) -> classifier; regression / single- / multi-label loss by config.problem_type."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)  # parameters.BertForSequenceClassification.keys: with pooler
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)  # parameters.group.classifier
        self.classifier.apply(self._init_weights)

    # heads.BertForSequenceClassification.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput | tuple:
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = losses.sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        output = SequenceClassifierOutput(loss, logits, outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


class BertForMultipleChoice(BertTaskModel):
    """Inputs [B, C, L] flattened to [B*C, L]; one score per choice -> logits [B, C] (labels.mc.reshape)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)  # parameters.BertForMultipleChoice.keys: with pooler
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, 1)  # parameters.group.choice_classifier
        self.classifier.apply(self._init_weights)

    # heads.BertForMultipleChoice.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> MultipleChoiceModelOutput | tuple:
        flat = _flatten_choices({"input_ids": input_ids, "attention_mask": attention_mask,
                                "token_type_ids": token_type_ids, "position_ids": position_ids,
                                "inputs_embeds": inputs_embeds})
        num_choices = (input_ids if input_ids is not None else inputs_embeds).shape[1]
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            flat["input_ids"],
            attention_mask=flat["attention_mask"],
            token_type_ids=flat["token_type_ids"],
            position_ids=flat["position_ids"],
            inputs_embeds=flat["inputs_embeds"],
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        # labels.mc.reshape: [B*C] scores back to [B, C], choices fastest.
        logits = self.classifier(self.dropout(outputs.pooler_output)).view(-1, num_choices)
        loss = losses.multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(loss, logits, outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


class BertForTokenClassification(BertTaskModel):
    """dropout(sequence output) -> classifier: logits [B, L, num_labels]."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)  # parameters.BertForTokenClassification.keys
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)  # parameters.group.classifier
        self.classifier.apply(self._init_weights)

    # heads.BertForTokenClassification.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> TokenClassifierOutput | tuple:
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = losses.token_classification_loss(logits, labels) if labels is not None else None
        output = TokenClassifierOutput(loss, logits, outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


class BertForQuestionAnswering(BertTaskModel):
    """qa_outputs -> start/end logits [B, L]; the forward needs config.num_labels == 2."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)  # parameters.BertForQuestionAnswering.keys
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # parameters.group.qa_outputs
        self.qa_outputs.apply(self._init_weights)

    # heads.BertForQuestionAnswering.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        start_positions: Tensor | None = None,
        end_positions: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> QuestionAnsweringModelOutput | tuple:
        # config.constraint.qa_two_labels (transformers builds the model and fails here: "too many values to
        # unpack").
        if self.num_labels != 2:
            raise ValueError(f"BertForQuestionAnswering needs config.num_labels == 2 (start, end), got {self.num_labels}")
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = self.qa_outputs(outputs.last_hidden_state).unbind(dim=-1)
        loss = None
        if start_positions is not None and end_positions is not None:  # labels.qa.loss: both, or no loss
            loss = losses.question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        output = QuestionAnsweringModelOutput(loss, start_logits.contiguous(), end_logits.contiguous(),
                                              outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


# --- helpers ---------------------------------------------------------------------------------------------


def _classifier_dropout(config: BertConfig) -> nn.Dropout:
    """Dropout before a classifier: classifier_dropout, or hidden_dropout_prob when that is None
    (config.behaviour.classifier_dropout.fallback)."""
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


def _flatten_choices(inputs: dict[str, Tensor | None]) -> dict[str, Tensor | None]:
    """[B, C, L] -> [B*C, L] ([B, C, L, H] -> [B*C, L, H]); reshape, so non-contiguous inputs work too
    (labels.mc.reshape)."""
    ids, embeds = inputs["input_ids"], inputs["inputs_embeds"]
    if (ids is None) == (embeds is None):
        raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
    main_name, rank = ("input_ids", 3) if ids is not None else ("inputs_embeds", 4)
    main = check_tensor(main_name, inputs[main_name])
    if main.dim() != rank:
        layout = "[batch, num_choices, seq_len" + (", hidden_size]" if rank == 4 else "]")
        raise ValueError(f"BertForMultipleChoice: {main_name} must have shape {layout}, got {list(main.shape)}")
    flat: dict[str, Tensor | None] = {}
    for name, value in inputs.items():
        if check_tensor(name, value) is None:
            flat[name] = None
            continue
        expected = tuple(main.shape[:3]) + (tuple(value.shape[3:4]) if name == "inputs_embeds" else ())
        if tuple(value.shape) != expected:
            raise ValueError(f"BertForMultipleChoice: {name} must have shape {list(expected)}, got {list(value.shape)}")
        flat[name] = value.reshape(-1, *value.shape[2:])
    return flat
