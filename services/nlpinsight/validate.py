"""`python -m services.nlpinsight.validate --champion DIR --challenger DIR`: gates, then C/C."""

import sys

from services.common.validation import run_cli
from services.nlpinsight import data

# Macro-F1 is the primary metric (Portfolio bar 0.70); no protected attributes in headlines.
GATES = {"primary": "f1_macro", "minimum": 0.70, "leakage_ceiling": 0.99}

if __name__ == "__main__":
    sys.exit(run_cli("nlpinsight", data.generate, lambda m, x: m.predict_proba(x), GATES, 0.5))
