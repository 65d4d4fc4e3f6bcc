"""Retrieval evaluation: ranking metrics and benchmark runs over BEIR-style datasets."""
