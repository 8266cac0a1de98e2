"""Tools: the Tool type, built-ins and MCP client tools."""
