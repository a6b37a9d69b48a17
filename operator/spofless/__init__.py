"""spofless: a Kubernetes operator that keeps a site free of single points of failure."""

__version__ = "0.1.0"
