"""``python -m synthscope``: the same command line as ``synthscope``."""

from synthscope.cli.main import main

if __name__ == "__main__":
    main()
