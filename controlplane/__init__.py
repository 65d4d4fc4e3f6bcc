"""The control plane: API keys, tenants and scopes (kept apart from HTTP, used by the CLI too)."""
