"""digitnet's CPython side: the MNIST files, recipes and training runs, real writers, the measurements and
results tables, the data the page ships (replay set, the Train panel's subset), ONNX, and the command line
(``cli.py``, one module per command group: ``cli_train``, ``cli_measure``, ``cli_models``, ``cli_site``,
``cli_adapt``; fitting the readers beside a network: ``digit_check``, ``digit_gate``, ``pen_order``). The maths
it trains with (backpropagation, costs, optimisers) is the package's own, ``digitnet``, which the page loads too."""
