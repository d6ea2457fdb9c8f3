"""ChicagoTaxi's place in the shared runtime: names and drift thresholds."""

from services.common.drift import Threshold
from services.common.serving import ServiceSpec

# The area mix moves with events and weather, so it gets the wider band (skill reference, §9.1).
SPEC = ServiceSpec(
    name="chicagotaxi",
    class_label="demand_category",
    thresholds={"pickup_community_area": Threshold(warn=0.15, alert=0.30)},
)
