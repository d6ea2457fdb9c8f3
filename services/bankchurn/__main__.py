"""`python -m services.bankchurn --port P --artifact DIR`."""

from services.bankchurn.app import build
from services.common.cli import serve

if __name__ == "__main__":
    serve("bankchurn", build)
