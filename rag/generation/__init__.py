"""Generators: JSON-schema-constrained text generation, in process or on a vLLM server."""
