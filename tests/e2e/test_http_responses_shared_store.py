"""Stored Responses on a shared PostgreSQL store: a response stored through one instance is
retrieved and continued through another, with the official `openai` SDK."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from testkit import FakeUpstream, reply_text
from testkit.postgres import PostgresCluster
from tests.e2e.server_harness import RunningServer
from tests.e2e.test_http_scale_out import MODEL, running_fleet


def client_of(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


def test_a_response_stored_on_one_instance_is_served_by_another(
    tmp_path: Path, fake: FakeUpstream, pg_cluster: PostgresCluster
) -> None:
    with running_fleet(tmp_path, fake, pg_cluster.create_database(), 2) as (first, second):
        fake.enqueue(reply_text("the capital is Paris"))
        stored = client_of(first).responses.create(
            model=MODEL, input="capital of France?", store=True
        )
        assert stored.output_text == "the capital is Paris"

        fetched = client_of(second).responses.retrieve(stored.id)
        assert fetched.id == stored.id and fetched.output_text == "the capital is Paris"

        fake.enqueue(reply_text("about 2 million"))
        follow_up = client_of(second).responses.create(
            model=MODEL, input="its population?", previous_response_id=stored.id
        )
        assert follow_up.output_text == "about 2 million"
        sent = json.dumps(fake.model_requests()[-1].body["messages"])
        assert "capital of France?" in sent and "the capital is Paris" in sent

        with pytest.raises(openai.NotFoundError):
            client_of(second).responses.retrieve("resp_" + "0" * 32)
