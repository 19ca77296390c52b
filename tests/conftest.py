"""dualtf's own suite runs through dualtf's own plugin (loaded by the pytest11 entry point)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
