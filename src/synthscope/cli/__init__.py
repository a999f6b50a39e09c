"""The synthscope command line."""
