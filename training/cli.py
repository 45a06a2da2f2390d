"""digitnet: train and measure the digit networks; build and serve the page."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from digitnet.errors import DigitnetError
from digitnet.training.allocator import keep_freed_memory
from digitnet.training.book import add_book_commands
from digitnet.training.cli_adapt import add_adapt_commands
from digitnet.training.cli_measure import add_measuring_commands
from digitnet.training.cli_models import add_model_commands
from digitnet.training.cli_site import add_site_commands
from digitnet.training.cli_train import add_training_commands
from digitnet.training.digit_gate import add_digit_gate_commands
from digitnet.training.onnx_format import add_onnx_commands
from digitnet.training.pen_order import add_pen_path_commands

#: Each command group adds its own commands (``add_…_commands(commands)``), in the order ``--help`` lists them.
COMMAND_GROUPS = (
    add_training_commands,
    add_measuring_commands,
    add_model_commands,
    add_site_commands,
    add_adapt_commands,
    add_book_commands,
    add_onnx_commands,
    add_pen_path_commands,
    add_digit_gate_commands,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # training and evaluation churn through large temporaries (allocator.py)
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader went away (`digitnet info ... | head`): nothing is left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:  # Ctrl-C where a command has no interruption of its own to report
        print("\ndigitnet: interrupted", file=sys.stderr)
        return 130
    except (DigitnetError, OSError) as e:  # the person's to put right; anything else is ours: its traceback shows
        print(f"digitnet: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if e.name not in EXTRAS:
            raise
        print(
            f"digitnet: error: this command needs the package {e.name}, which the plain install leaves out: "
            f"pip install 'digitnet[{EXTRAS[e.name]}]'",
            file=sys.stderr,
        )
        return 2


#: Optional imports → the extra of pyproject.toml that installs them.
EXTRAS = {"pyodide_lock": "web"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitnet", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for add_commands in COMMAND_GROUPS:
        add_commands(commands)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
