"""`python -m services.bankchurn.validate --champion DIR --challenger DIR`: gates, then C/C."""

import sys

from services.bankchurn import data
from services.bankchurn.model import THRESHOLD
from services.common.validation import run_cli

GATES = {"primary": "roc_auc", "minimum": 0.80, "fairness_metrics": ("dir_gender",)}

if __name__ == "__main__":
    sys.exit(run_cli("bankchurn", data.generate, lambda m, x: m.predict_proba(x), GATES, THRESHOLD))
