import sys
from pathlib import Path

# The helper modules (rbac, fakekube, helm, manifests) live beside the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
