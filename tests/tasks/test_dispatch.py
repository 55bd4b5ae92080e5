"""What a task message carries on the broker: the arguments once, in the body; its description (what Celery
events and logs show) names only the shard key, so a message's content is neither copied nor ``saferepr``'d."""

from __future__ import annotations

import base64
import json

from config import parse_config
from persistence.database import Database
from persistence.stores import Stores
from tasks.api import SET_TYPING
from tasks.app import create_celery
from tasks.dispatch import CeleryDispatcher
from tasks.ledger import Ledger
from tasks.registry import catalogue
from tasks.resharding import LiveRouting
from tests.conftest import RUN_ID, _data_for
from tests.services import redis_client


def test_a_message_describes_only_its_shard_key(pg_database_name: str, redis_db: int) -> None:
    # A typing writer nobody runs: the message stays on its queue for the test to read.
    config = parse_config({**_data_for("workers", pg_database_name, redis_db),
                           "stream_writers": {"typing": ["dispatchprobe"]},
                           "instance_map": {"dispatchprobe": {"host": "127.0.0.1", "port": 1}}})
    database = Database(config.database)
    celery = create_celery(config)
    queue = f"test{RUN_ID}:typing.dispatchprobe"
    client = redis_client(redis_db)
    try:
        dispatcher = CeleryDispatcher(celery, catalogue(), LiveRouting(config, database, Stores()), "secret",
                                      ledger=Ledger(database, Stores()))
        dispatcher.send(SET_TYPING, room_id="!room:test.local", user_id="@a:test.local", typing=True,
                        timeout_ms=30000)
        (raw,) = client.lrange(queue, 0, -1)
        message = json.loads(raw)
        headers = message["headers"]
        assert headers["argsrepr"] == "()" and headers["kwargsrepr"] == "{'room_id': '!room:test.local'}"
        assert headers["task"] == SET_TYPING and headers["ganglion_mac"]
        body = json.loads(base64.b64decode(message["body"]))
        assert body[1] == {"room_id": "!room:test.local", "user_id": "@a:test.local", "typing": True,
                           "timeout_ms": 30000}
    finally:
        client.delete(queue)
        celery.close()
        database.dispose()
