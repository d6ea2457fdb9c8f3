"""`python -m services.nlpinsight --port P --artifact DIR`."""

from services.common.cli import serve
from services.nlpinsight.app import build

if __name__ == "__main__":
    serve("nlpinsight", build)
