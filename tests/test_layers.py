"""Imports point down the pipeline: `qa` never imports `api`, FastAPI or slack-bolt."""

import ast

from tests.helpers import ROOT

FORBIDDEN = ("api", "fastapi", "starlette", "slack_bolt", "slack_sdk", "uvicorn")


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_qa_does_not_import_the_web_layer():
    offenders = []
    for path in sorted((ROOT / "qa").rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            # uvicorn is allowed only where `qa serve` starts the server, by name
            if top in FORBIDDEN and not (top == "uvicorn" and path.name == "cli.py"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_api_uses_only_qas_public_modules():
    for path in sorted((ROOT / "api").rglob("*.py")):
        for name in imported_modules(path):
            assert not name.startswith("qa._"), f"{path.name} imports private {name}"
