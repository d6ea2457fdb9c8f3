"""BankChurn's place in the shared runtime: names and drift thresholds."""

from services.common.drift import Threshold
from services.common.serving import ServiceSpec

# Balance is noisier in the seed's data, so it gets the wider band (skill reference, §9.1).
SPEC = ServiceSpec(
    name="bankchurn",
    class_label="risk_level",
    thresholds={"Balance": Threshold(warn=0.15, alert=0.30)},
)
