"""`python -m services.chicagotaxi --port P --artifact DIR`."""

from services.chicagotaxi.app import build
from services.common.cli import serve

if __name__ == "__main__":
    serve("chicagotaxi", build)
