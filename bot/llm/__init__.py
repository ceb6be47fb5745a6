"""LLM mode: a generative model plans the investigation with the registry's read-only tools and
writes the summary; the guardrails, the grounding check and the deterministic fallback keep it as
safe and as grounded as the default mode. See docs/llm.md.

Nothing here imports LangChain at module import time except the modules that need it, and those
are imported only when LLM mode is built.
"""
