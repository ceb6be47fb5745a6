"""Kubernetes inspection: the namespace's state as typed records (state), deterministic analyzers
over it (analyzers) and the `kubernetes_diagnose` tool (tool). docs/kubernetes.md."""
