"""Training side of digitnet (CPython only): MNIST, backpropagation, SGD, recipes, the CLI."""
