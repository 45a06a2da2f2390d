"""digitnet: a handwritten-digit recogniser whose network is plain NumPy.

This package is the inference side, loaded both by CPython and by Pyodide in the
browser: layers (forward pass), the network, the model file format and the
MNIST-style preprocessing of drawings. Training lives in ``digitnet.training``.
"""

from digitnet.entries import ModelFormatError
from digitnet.modelfile import load_model, parse_model, save_model
from digitnet.network import Network, confidence, probabilities

__version__ = "0.1.0"

__all__ = [
    "ModelFormatError",
    "Network",
    "__version__",
    "confidence",
    "load_model",
    "parse_model",
    "probabilities",
    "save_model",
]
