"""Extractive question answering over news articles, with verifiable citations.

The pipeline runs one way: ingest -> chunk -> index -> retrieve -> read -> answer.
`QAService` (qa.service) is the single entry point for HTTP, Slack, the CLI and evaluation.
"""

__version__ = "0.1.0"
