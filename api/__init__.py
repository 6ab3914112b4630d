"""The HTTP face of the QA service: a FastAPI app over `qa.service.QAService`."""

from api.app import create_app

__all__ = ["create_app"]
