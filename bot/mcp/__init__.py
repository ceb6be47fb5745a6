"""opscopilot as a Model Context Protocol server (docs/mcp.md): the read-only tools, `investigate`,
a runbook *request*, resources and prompts, for any MCP client over stdio or streamable HTTP.

`service.McpService` is the transport-neutral part (what is exposed, redaction, audit);
`server.py` puts it behind the official `mcp` SDK's low-level `Server` and its transports.
"""
