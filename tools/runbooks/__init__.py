"""Executable runbooks: the format (model.py, loader.py), plans (plan.py), the approval policy
(policy.py), proposals (propose.py), the engine and its seams (engine.py, seams.py), the sandbox
target (sandbox_target.py, simcli.py) and the API the CLI and Slack call (service.py).
See docs/runbooks.md."""
