"""Root-cause analysis: rank the culprit service and signal of an incident, with evidence.

Pure functions over arrays (no I/O): `rank.rank_causes(RcaInput) -> RcaResult`. Modules:
`signals` (robust per-series change scores), `graph` (call graphs from a topology or YAML),
`rank` (the ranking and its explanations), `table` (the RCAEval CSV layout), `baselines`
(N-Sigma and BARO as RCAEval runs them), `cases` (sandbox fault cases for benchmarks and tests).
See docs/rca.md.
"""
