"""What is observed of the cluster: small records of API objects, and the pure parsers that make them."""
