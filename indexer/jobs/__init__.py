"""Ingestion jobs of the HTTP API: uploads on disk, jobs in SQLite, one background worker.

`manager.JobManager` is the entry point; `model` holds the job objects, `store` the SQLite
table, `uploads` the streaming multipart writer, `inputs` turns uploads and records into
documents, `progress` counts a running job and `runner` ingests one job.
"""
