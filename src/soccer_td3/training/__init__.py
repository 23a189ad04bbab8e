"""The training loop and what it writes: metrics, run folders, weights."""
