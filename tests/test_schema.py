"""schemathesis against /openapi.json: generated requests (bounded) never get a 5xx and every
response fits the published schema. Runs on SQLite with a service token (the widest access)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from chronos_chat import ChatStore, OfflineTitleGenerator
from chronos_chat.api import Settings, create_app
from chronos_chat.api.auth import issue_token

SECRET = "schema-secret-" + "z" * 24
_store = ChatStore(
    f"sqlite:///{Path(tempfile.mkdtemp()) / 'schema.db'}", title_generator=OfflineTitleGenerator()
)
asyncio.run(_store.open())
app = create_app(_store, Settings(jwt_secret=SECRET, rate_limit_per_minute=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
HEADERS = {"Authorization": f"Bearer {issue_token(SECRET, role='service', sub='schemathesis')}"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_schema(case: Any) -> None:
    # The promise checked: no server error, and every response matches its published schema.
    # (Input rules the schema cannot state, such as "not only spaces", are answered 422.)
    case.call_and_validate(
        headers=HEADERS, checks=[not_a_server_error, response_schema_conformance]
    )
