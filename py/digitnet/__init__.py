"""digitnet: a handwritten-digit recogniser whose network is plain NumPy.

This package is what the browser loads (in Pyodide) and CPython uses alike: the layers with their forward
and backward passes, the network, backpropagation and optimisers, the model file, the MNIST-style
normalisation of drawings and pictures, numbers, the readers beside a network (digit check, digit gate,
pen path), the memory of kept drawings, adapting, the Train panel's runs and the Inside view. The
MNIST files, recipes, measurements and the command line are ``digitnet.training`` (CPython only).
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
