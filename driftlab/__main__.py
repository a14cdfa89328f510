"""``python -m driftlab ...``: the same command line as the ``driftlab`` script."""

from driftlab.cli import main

if __name__ == "__main__":  # pragma: no branch
    main(prog_name="driftlab")
