// Generated from offgate's catalog by `offgate extension targets`: do not edit.
// Which requests the page tap copies to the native host (see offgate/catalog/export.py).
const OFFGATE_TARGETS = Object.freeze([
  {"app": "microsoft-copilot", "host": "copilot.microsoft.com", "http_paths": [], "provider": "microsoft-copilot", "websocket_paths": ["^(?:/c/api/chat)$"]},
  {"app": "chatgpt", "host": "chatgpt.com", "http_paths": ["^(?:/backend-(?:api|anon)(?:/f)?/conversation)$", "^(?:/backend-api/codex/responses)$"], "provider": "chatgpt", "websocket_paths": []},
  {"app": "chatgpt", "host": "chat.openai.com", "http_paths": ["^(?:/backend-(?:api|anon)(?:/f)?/conversation)$", "^(?:/backend-api/codex/responses)$"], "provider": "chatgpt", "websocket_paths": []},
  {"app": "claude-web", "host": "claude.ai", "http_paths": ["^(?:/api/organizations/[^/]+/chat_conversations/[^/]+/(?:retry_)?completion)$"], "provider": "claude-web", "websocket_paths": []},
  {"app": "gemini-web", "host": "gemini.google.com", "http_paths": ["^(?:(?:/u/\\d+)?/_/BardChatUi/data/assistant\\.lamda\\.BardFrontendService/StreamGenerate)$"], "provider": "gemini-web", "websocket_paths": []},
  {"app": "perplexity-web", "host": "www.perplexity.ai", "http_paths": ["^(?:/rest/sse/perplexity[._]ask)$"], "provider": "perplexity-web", "websocket_paths": []},
  {"app": "perplexity-web", "host": "perplexity.ai", "http_paths": ["^(?:/rest/sse/perplexity[._]ask)$"], "provider": "perplexity-web", "websocket_paths": []},
  {"app": "le-chat", "host": "chat.mistral.ai", "http_paths": ["^(?:/api/chat)$", "^(?:/api/trpc/message\\.newChat)$"], "provider": "le-chat", "websocket_paths": []},
  {"app": "deepseek-web", "host": "chat.deepseek.com", "http_paths": ["^(?:/api/v0/chat/completion)$"], "provider": "deepseek-web", "websocket_paths": []},
  {"app": "grok-web", "host": "grok.com", "http_paths": ["^(?:/rest/app-chat/conversations/(?:new|[^/]+/responses))$"], "provider": "grok-web", "websocket_paths": []},
  {"app": "meta-ai", "host": "www.meta.ai", "http_paths": ["^(?:(?:/api)?/graphql/?)$"], "provider": "meta-ai", "websocket_paths": []},
  {"app": "meta-ai", "host": "meta.ai", "http_paths": ["^(?:(?:/api)?/graphql/?)$"], "provider": "meta-ai", "websocket_paths": []},
  {"app": "meta-ai", "host": "graph.meta.ai", "http_paths": ["^(?:(?:/api)?/graphql/?)$"], "provider": "meta-ai", "websocket_paths": []},
  {"app": "poe", "host": "poe.com", "http_paths": ["^(?:/api/gql_POST)$"], "provider": "poe", "websocket_paths": ["^(?:/up/[^/]+/updates)$"]},
  {"app": "poe", "host": "www.poe.com", "http_paths": ["^(?:/api/gql_POST)$"], "provider": "poe", "websocket_paths": ["^(?:/up/[^/]+/updates)$"]},
  {"app": "poe", "host": "*.tch.poe.com", "http_paths": ["^(?:/api/gql_POST)$"], "provider": "poe", "websocket_paths": ["^(?:/up/[^/]+/updates)$"]},
  {"app": "huggingchat", "host": "huggingface.co", "http_paths": ["^(?:/chat/conversation/[0-9a-f]{24})$"], "provider": "huggingchat", "websocket_paths": []}
]);
