"""HTTP routers, one module per resource; each exposes a module-level `router` mounted under /v1."""
