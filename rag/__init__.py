"""rag-service domain core: knowledge bases, embedding, retrieval. No web framework inside."""
