"""The sandbox: a simulated online shop (metrics, logs, traces, changes, alerts) with faults.

Start at `tools.sandbox.simulator.load_sandbox`; see docs/sandbox.md.
"""
