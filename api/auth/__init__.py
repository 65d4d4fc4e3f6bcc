"""Who is calling: API keys (hashed at rest), JWT access tokens, tenants and scopes."""
