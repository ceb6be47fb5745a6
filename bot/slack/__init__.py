"""The Slack adapter (Bolt for Python) over the transport-neutral core: conversations, `/ops`,
buttons, charts and scheduled summaries. See docs/slack.md."""
