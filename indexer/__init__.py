"""Indexer: turns files into documents (loaders), documents into chunks, and runs ingest jobs."""
