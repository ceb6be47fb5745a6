"""The evaluation harness: golden cases as folders, pure scorers, stored runs, the regression
gate, production drift monitoring, replay of logged questions and shadow/canary comparison.

See docs/evals.md. Entry points: `opscopilot eval ...` (bot/cli/eval.py) and
`python -m evals.gate`.
"""
