"""listener's own verdict on an item: sentiment, complaint, confidence, language and why.

VADER's numbers (`listener.sentiment`) stay VADER's; the verdict is what decisions use. The
`service` scorer, built for customer-service language:

1. masking (`masking.mask`): the watched terms, @handles, staff names, URLs and e-mail
   addresses are the target, never sentiment;
2. the rule layer (`rules.apply_rules`): politeness made neutral, complaint cues
   weighted, sarcasm; VADER scores what is left and the cues shift its compound;
3. a logistic regression on hashed words, the rules that fired and the rule-layer
   VADER scores (`model`; weights in `listener/data/verdict.npz`, built by `tools/train_verdict.py`);
4. language identification (`languages`, py3langid): a text not in English is `unknown`.

The model decides for text about the brand (it names a watched term or writes to its handle) and
for text with complaint cues whose rule-layer score is negative; other text is general language,
where VADER (validated on it) is better than a model trained for service: its score after masking
and the rules decides.

`score_item` is the per-item entry point for a caller that needs VADER's numbers too.

The `vader` scorer is the old behaviour: sentiment from compound and the thresholds, no complaint.
"""

from listener.models import Verdict
from listener.verdict.judging import (
    MODEL_VERSION,
    SUPPORTED_LANGUAGES,
    judge,
    score_item,
    score_items,
    verdict_json,
    verdict_version,
)
from listener.verdict.languages import _identifier, language
from listener.verdict.model import CLASSES, DENSE, HASH_BITS, Model, bucket, features, load_model, probabilities, vader_scores

__all__ = [
    "CLASSES", "DENSE", "HASH_BITS", "SUPPORTED_LANGUAGES", "Model", "Verdict", "bucket", "features", "judge",
    "language", "load_model", "probabilities", "score_item", "score_items", "vader_scores", "verdict_json",
    "verdict_version", "_identifier", "MODEL_VERSION",
]
