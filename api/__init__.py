"""HTTP service (FastAPI app factory, routers, OpenAI-compatible endpoints)."""
