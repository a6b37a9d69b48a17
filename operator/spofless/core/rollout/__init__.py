"""Rollouts: a template change reaches the zones one at a time, and halts when health drops."""
