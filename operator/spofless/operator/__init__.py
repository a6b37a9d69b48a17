"""The kopf operator: the shell that watches the cluster, hands each site to the core and carries
out its decisions (server-side apply, status patches, events). `kube` is its API client."""
