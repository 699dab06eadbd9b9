"""The recipe domain: pure data and text, no I/O."""
