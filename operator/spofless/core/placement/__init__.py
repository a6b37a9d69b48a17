"""Placement: which zones a site runs in, which are out of service and why, and how many replicas each gets."""
