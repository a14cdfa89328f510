"""The ``driftlab`` command line.

Subcommands live in their own modules and are imported only when used (``LazyGroup``), so
``driftlab --version`` and the table commands start fast and never import torch. A module
listed in ``SUBCOMMANDS`` that is not present is simply not offered.

Errors (see :mod:`driftlab.cli._errors`): exit 2 for usage errors, 1 for failures, 130 when
interrupted; always one line on stderr, never a traceback (``DRIFTLAB_DEBUG=1`` shows it).
``python -m driftlab`` is the same command.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from driftlab._version import __version__
from driftlab.cli._errors import DriftlabGroup

# name -> "module:attribute"; later issues add their commands here.
SUBCOMMANDS: dict[str, str] = {
    "doctor": "driftlab.cli.doctor:doctor",
    "repro": "driftlab.cli.repro:repro",
    "verify": "driftlab.cli.verify:verify",
    "spectrum": "driftlab.cli.spectrum:spectrum",
    "anneal": "driftlab.cli.spectrum:anneal",
    "kernels": "driftlab.cli.spectrum:kernels",
    "simulate": "driftlab.cli.simulate:simulate",
    "train": "driftlab.cli.train:train",
    "spacetime": "driftlab.cli.spacetime:spacetime",
    "check": "driftlab.cli.check:check",
}


class LazyGroup(DriftlabGroup):
    def list_commands(self, ctx):
        return sorted(n for n, target in SUBCOMMANDS.items() if importlib.util.find_spec(target.split(":")[0]))

    def get_command(self, ctx, name):
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        if importlib.util.find_spec(module) is None:
            return None
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="driftlab")
def main() -> None:
    """driftlab: verify, compute and simulate the theory of generative drifting.

    \b
    Exit status: 0 success, 1 the work failed (library error, output folder, device,
    non-finite result), 2 usage error (the option is named), 130 interrupted. Errors are
    one line on stderr; DRIFTLAB_DEBUG=1 shows the Python traceback instead.
    """
