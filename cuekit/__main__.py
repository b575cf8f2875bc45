"""``python -m cuekit``: the same command-line interface as the ``cuekit`` script."""

from cuekit.cli import main

if __name__ == "__main__":
    main()
