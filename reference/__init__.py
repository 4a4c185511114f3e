"""A readable reference BERT in PyTorch, matching Hugging Face Transformers v5."""

from .cache import Cache
from .classifiers import (
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from .config import BertConfig
from .heads import BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining, BertLMHeadModel
from .model import BertModel, BertPreTrainedModel

# transformers class name -> class, for all nine classes.
HEAD_CLASSES: dict[str, type[BertPreTrainedModel]] = {
    cls.__name__: cls
    for cls in (BertModel, BertForPreTraining, BertLMHeadModel, BertForMaskedLM, BertForNextSentencePrediction,
                BertForSequenceClassification, BertForMultipleChoice, BertForTokenClassification,
                BertForQuestionAnswering)
}

__version__ = "0.1.0"

__all__ = [
    "HEAD_CLASSES",
    "BertConfig",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertLMHeadModel",
    "BertModel",
    "BertPreTrainedModel",
    "Cache",
]
