"""The pure core: every decision spofless makes, as plain data in and plain data out.

No I/O, no clock, no cluster library: the kopf operator and the audit command are shells that
feed it what they observe and carry out what it returns. `make lint` holds it to that
(import-linter contract in pyproject.toml).
"""
