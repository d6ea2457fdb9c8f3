"""The MCP server for LLM agents (`opsctl mcp`): tools over the HTTP client, hints from policy."""
