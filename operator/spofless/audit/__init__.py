"""`spofless audit`: the second shell. Reads any cluster (never writes) and reports its single
points of failure with the core's rules, the same ones the operator's status uses."""
