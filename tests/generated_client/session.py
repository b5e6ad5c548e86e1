"""The README's curl session, through a client generated from openapi/openapi.json.

tests/contract/run.sh generates the client with openapi-python-client (pinned
in .ci/run) into a temporary directory, never committed, and runs this script
against a server it started:

    PYTHONPATH=<dir> CLIENT_PACKAGE=<package> python session.py BASE_URL ADMIN_TOKEN

Every answer must parse into the type the document declares for it: a field
the document gets wrong (a `null` where it promised a string, a missing
status) fails here as it would in a user's client.
"""

import importlib
import os
import sys

BASE, ADMIN = sys.argv[1], sys.argv[2]
PACKAGE = os.environ["CLIENT_PACKAGE"]


def load(name):
    return importlib.import_module(f"{PACKAGE}.{name}")


client_mod = load("client")
models = load("models")
channels_api = load("api.channels")
tokens_api = load("api.tokens")
events_api = load("api.events")
webhooks_api = load("api.webhooks")

for module in [
    "post_channels",
    "get_channels",
    "get_channels_channel_id",
    "patch_channels_channel_id",
    "delete_channels_channel_id",
]:
    importlib.import_module(f"{channels_api.__name__}.{module}")
for module in [
    "post_channels_channel_id_tokens",
    "get_channels_channel_id_tokens",
    "delete_channels_channel_id_tokens_token_id",
]:
    importlib.import_module(f"{tokens_api.__name__}.{module}")
for module in [
    "post_channels_channel_id_events",
    "get_channels_channel_id_events",
    "get_channels_channel_id_events_event_id",
    "delete_channels_channel_id_events_event_id",
]:
    importlib.import_module(f"{events_api.__name__}.{module}")
for module in [
    "post_channels_channel_id_webhooks",
    "get_channels_channel_id_webhooks",
    "get_channels_channel_id_webhooks_webhook_id_deliveries",
    "delete_channels_channel_id_webhooks_webhook_id",
]:
    importlib.import_module(f"{webhooks_api.__name__}.{module}")

api_base = f"{BASE}/api/v1"
admin = client_mod.AuthenticatedClient(
    base_url=api_base, token=ADMIN, raise_on_unexpected_status=True
)
anonymous = client_mod.Client(base_url=api_base, raise_on_unexpected_status=True)


def expect(response, status, model=None):
    """The answer has this status and parsed into this model."""
    code = int(response.status_code)
    assert code == status, f"expected {status}, got {code}: {response.content!r}"
    if model is not None:
        assert isinstance(response.parsed, model), (
            f"expected a {model.__name__}, got {response.parsed!r}"
        )
    return response.parsed


ch = channels_api
tk = tokens_api
ev = events_api
wh = webhooks_api

# Channels: a public one and a private one.
market = expect(
    ch.post_channels.sync_detailed(
        client=admin, body=models.CreateChannel(id="market-signals")
    ),
    201,
    models.Channel,
)
assert market.id == "market-signals" and market.is_public
assert market.last_event_at is None, "a new channel has no last event"
ops = expect(
    ch.post_channels.sync_detailed(
        client=admin, body=models.CreateChannel(id="ops", is_public=False)
    ),
    201,
    models.Channel,
)
assert not ops.is_public
page = expect(ch.get_channels.sync_detailed(client=admin), 200, models.ChannelPage)
assert {"market-signals", "ops"} <= {c.id for c in page.channels}
expect(
    ch.get_channels_channel_id.sync_detailed("ops", client=anonymous), 401, models.Problem
)

# Tokens: a subscribe and a publish token for the private channel.
subscribe = expect(
    tk.post_channels_channel_id_tokens.sync_detailed(
        "ops",
        client=admin,
        body=models.CreateSubscribeToken(
            kind=models.CreateSubscribeTokenKind.SUBSCRIBE, name="dashboard"
        ),
    ),
    201,
    models.CreatedTokenBody,
)
publish = expect(
    tk.post_channels_channel_id_tokens.sync_detailed(
        "ops",
        client=admin,
        body=models.CreatePublishToken(
            kind=models.CreatePublishTokenKind.PUBLISH, publisher_id="agent-001"
        ),
    ),
    201,
    models.CreatedTokenBody,
)
assert publish.publisher_id == "agent-001"
listed = expect(
    tk.get_channels_channel_id_tokens.sync_detailed("ops", client=admin), 200, list
)
assert {t.id for t in listed} == {subscribe.id, publish.id}

# Publish one event, then a batch.
single = expect(
    ev.post_channels_channel_id_events.sync_detailed(
        "market-signals",
        client=admin,
        body=models.EventInput(
            type_="price.update", data={"symbol": "BTC", "price": 67500.0}
        ),
    ),
    201,
    models.Event,
)
assert single.data == {"symbol": "BTC", "price": 67500.0}
batch = expect(
    ev.post_channels_channel_id_events.sync_detailed(
        "market-signals",
        client=admin,
        body=models.EventBatchInput(
            events=[
                models.EventInput(type_="a", data=1),
                models.EventInput(type_="b", data=2),
            ]
        ),
    ),
    201,
    models.EventList,
)
assert [e.type_ for e in batch.events] == ["a", "b"]

# Poll with a cursor: every event once, in order.
first = expect(
    ev.get_channels_channel_id_events.sync_detailed(
        "market-signals", client=anonymous, limit=2
    ),
    200,
    models.EventPage,
)
assert [e.id for e in first.events] == [single.id, batch.events[0].id]
assert first.has_more and isinstance(first.cursor, str)
rest = expect(
    ev.get_channels_channel_id_events.sync_detailed(
        "market-signals", client=anonymous, cursor=first.cursor, wait=1
    ),
    200,
    models.EventPage,
)
assert [e.id for e in rest.events] == [batch.events[1].id]
assert not rest.has_more
empty = expect(
    ev.get_channels_channel_id_events.sync_detailed(
        "market-signals", client=anonymous, cursor=rest.cursor, wait=1
    ),
    200,
    models.EventPage,
)
assert empty.events == []
one = expect(
    ev.get_channels_channel_id_events_event_id.sync_detailed(
        "market-signals", single.id, client=anonymous
    ),
    200,
    models.Event,
)
assert one.id == single.id

# The private channel: the publish token stamps its publisher, the subscribe
# token reads.
publisher = client_mod.AuthenticatedClient(
    base_url=api_base, token=publish.token, raise_on_unexpected_status=True
)
reader = client_mod.AuthenticatedClient(
    base_url=api_base, token=subscribe.token, raise_on_unexpected_status=True
)
stamped = expect(
    ev.post_channels_channel_id_events.sync_detailed(
        "ops", client=publisher, body=models.EventInput(type_="deploy", data=None)
    ),
    201,
    models.Event,
)
assert stamped.publisher_id == "agent-001" and stamped.data is None
read = expect(
    ev.get_channels_channel_id_events.sync_detailed("ops", client=reader),
    200,
    models.EventPage,
)
assert [e.id for e in read.events] == [stamped.id]

# A webhook: register, register again (same id), list, deliveries, delete.
hook = expect(
    wh.post_channels_channel_id_webhooks.sync_detailed(
        "market-signals",
        client=anonymous,
        body=models.RegisterWebhook(
            url="http://127.0.0.1:9/hook",
            event_types=["price.update"],
            ttl_seconds=86400,
        ),
    ),
    201,
    models.CreatedWebhook,
)
assert hook.secret.startswith("whsec_") and hook.state == models.WebhookState.ACTIVE
again = expect(
    wh.post_channels_channel_id_webhooks.sync_detailed(
        "market-signals",
        client=anonymous,
        body=models.RegisterWebhook(url="http://127.0.0.1:9/hook"),
    ),
    200,
    models.Webhook,
)
assert again.id == hook.id
hooks = expect(
    wh.get_channels_channel_id_webhooks.sync_detailed("market-signals", client=admin),
    200,
    list,
)
assert [h.id for h in hooks] == [hook.id]
expect(
    wh.get_channels_channel_id_webhooks_webhook_id_deliveries.sync_detailed(
        "market-signals", hook.id, client=admin
    ),
    200,
    list,
)
expect(
    wh.delete_channels_channel_id_webhooks_webhook_id.sync_detailed(
        "market-signals", hook.id, client=admin
    ),
    204,
)

# Delete: an event, a token, the channels.
expect(
    ev.delete_channels_channel_id_events_event_id.sync_detailed(
        "ops", stamped.id, client=publisher
    ),
    204,
)
expect(
    tk.delete_channels_channel_id_tokens_token_id.sync_detailed(
        "ops", publish.id, client=admin
    ),
    204,
)
expect(
    ev.post_channels_channel_id_events.sync_detailed(
        "ops", client=publisher, body=models.EventInput(data=1)
    ),
    401,
    models.Problem,
)
for channel_id in ["market-signals", "ops"]:
    expect(
        ch.delete_channels_channel_id.sync_detailed(channel_id, client=admin), 204
    )
expect(
    ch.get_channels_channel_id.sync_detailed("market-signals", client=admin),
    404,
    models.Problem,
)
print("generated client: the README session ran end to end")
