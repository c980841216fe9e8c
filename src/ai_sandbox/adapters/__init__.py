"""Agent surfaces: the sandbox's tools on OpenAI, LangChain and MCP, from one definition.

Each adapter lives in its own module and imports its framework only when you import it, so
``import ai_sandbox.adapters`` never pulls in openai, langchain or mcp:

- :mod:`ai_sandbox.adapters.openai`: ``openai_tools``, ``handle_tool_calls``, ``run_agent_loop``
  (``pip install 'ai-sandbox[openai]'``)
- :mod:`ai_sandbox.adapters.langchain`: ``langchain_tools``, ``SandboxToolkit``
  (``pip install 'ai-sandbox[langchain]'``)
- :mod:`ai_sandbox.adapters.mcp`: ``create_server``, ``serve_stdio``; ``ai-sandbox mcp --root DIR``
  (``pip install 'ai-sandbox[mcp]'``)

Every surface publishes the schema :mod:`ai_sandbox.adapters._schema` derives from the tool's
pydantic model and runs every call through :meth:`ai_sandbox.Sandbox.call`.
"""

__all__: list[str] = []
