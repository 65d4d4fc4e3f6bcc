"""The OpenAI-compatible API: models, chat completions and embeddings over the KBs."""
