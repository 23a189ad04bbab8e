"""The soccer tasks: which exist, how to make them, how to step several at once."""
