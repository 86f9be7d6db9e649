-- wrk script: MCP tools/call of the seed's get-managed-user over Streamable HTTP.
-- The session comes from an initialize done by bench/run.sh (MCP_SESSION in the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = os.getenv("MCP_SESSION")
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
    .. '{"name":"get-managed-user","arguments":{"clientId":"abc","userId":42}}}'
