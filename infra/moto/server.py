"""moto's server for the local stack: moto's own server, with some of its
costs trimmed and two of its gaps closed. Nothing here changes what a request
answers, except where moto is wrong; production code has no such patches.

Costs:
- werkzeug's development server closes every connection, so each request
  starts a Python thread, and the accept loop waits on the interpreter lock
  for every start: with the default 5 ms switch interval that wait dominates
  a call's latency under load. A shorter interval hands the lock over sooner.
- moto lists its package directory on every request, under its global
  dispatch lock, to recognise a service name: listed once here (it cannot
  change while the server runs). Request lines are not logged (warnings and
  errors are).
- moto backs up a transaction by deep-copying each table it names, once per
  item, stream records included, so a transaction costs time and memory in
  proportion to everything ever written (3.4 s for a 2-item transaction on a
  20,000-item table; a 1,000-create burst grew the server past 12 GiB). Here
  a transaction backs up only what it can change, the items it names, and
  notes the stream records it appends; a cancelled one puts the items back
  and drops those records. That is all a cancellation has to undo, and
  unlike restoring a whole copy (or cutting the stream back to its length)
  it cannot undo another request's write to another item, should one overlap
  it (a write to an item it names would still be undone).
- moto's ReceiveMessage checks each message's retention by computing all of
  the queue's attributes, message counts included, so a receive costs the
  square of the queue's length. The check reads the one setting it needs.
- moto's SendMessage reads one FIFO setting from all of a queue's attributes,
  message counts included, so each message sent costs the queue's length
  (20 ms a message at 500 waiting, 95 ms at 1,500). A standard queue has no
  FIFO settings: while a message is sent to one, its attributes are left
  uncomputed (empty, as far as that read goes).

Gaps:
- moto walks a table's dict of partitions for every Query, Scan and
  DescribeTable while other request threads add to it (RuntimeError
  "dictionary changed size during iteration", a 500: 20 in one run of the
  suite, each costing an SDK retry, three in a row an error). Here the walks
  read copies of the dicts' values.
- moto numbers a stream record from the shard's length before appending it,
  so two writes in different request threads can take the same sequence
  number (35 of 2,400 concurrent puts did), and a stream poller then reads
  from the wrong record for ever. DynamoDB never repeats one: appends to a
  shard are serialized here.
- (the transaction backup above) moto's restore of a whole copy undid other
  requests' writes; the local stack also runs transactions alone.
- moto ignores TransactWriteItems' ClientRequestToken, which the SDK fills
  in once per call and sends again with each retry: on DynamoDB a retry of a
  transaction whose answer was lost returns success without applying it
  again. On moto the retry applied again, and a create's own put refused
  itself (a webhook create answered 409 "already exists" after a dropped
  connection). Here a token that committed in the last 10 minutes answers
  success again for the same items, and IdempotentParameterMismatch for
  others, as DynamoDB does.
- moto's SQS keeps the set of received messages unguarded: ReceiveMessage
  iterates it while other requests add and remove (RuntimeError "Set changed
  size during iteration"), and two requests can both find a message in it
  and both remove it (KeyError). Either fails the receive with a 500 after
  it has marked some messages received, so they stay hidden for the queue's
  whole visibility timeout (6 minutes for DeliveryQueue) though nobody got
  them. Here the set is read through a snapshot (copying a set is atomic
  under the interpreter lock) and a removal of what is gone is a no-op.

Usage: python3 infra/moto/server.py [moto_server's arguments]
"""
import copy
import functools
import hashlib
import json
import logging
import sys
import threading
import time
import types

import moto
import moto.dynamodb.models as dynamodb_models
from moto import backends
from moto.core.responses import ActionResult
from moto.core.utils import unix_time
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Queue, SQSBackend
from moto.server import main

# The patches below replace this release's internals (all_items, the
# transaction's backup, the received set...): another release needs them
# checked against its code first (make tools installs this one).
PATCHED_RELEASE = "5.2.1"
if moto.__version__ != PATCHED_RELEASE:
    sys.exit(f"infra/moto/server.py patches moto {PATCHED_RELEASE}; this is moto {moto.__version__} (make tools installs {PATCHED_RELEASE})")

sys.setswitchinterval(0.0005)
_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _modules
logging.getLogger("werkzeug").setLevel(logging.WARNING)


_stream_lock = threading.Lock()


def _serialized(add, lock=_stream_lock):
    @functools.wraps(add)
    def locked(self, *args, **kwargs):
        with lock:
            return add(self, *args, **kwargs)
    return locked


# The stream records of the transaction this request thread is applying, by
# shard, so a cancellation drops exactly its own.
_transaction = threading.local()


def _noted(add):
    @functools.wraps(add)
    def noted(self, old, new):
        add(self, old, new)
        appended = getattr(_transaction, "appended", None)
        if appended is not None and self.items:
            appended.setdefault(id(self), []).append(self.items[-1])
    return noted


StreamShard.add = _serialized(_noted(StreamShard.add))


def _drop_records(shard, own):
    """Drops a cancelled transaction's own stream records (own, in the order
    appended). Another request's record appended meanwhile (the local stack
    runs transactions alone, so only a request going around it can overlap
    one) is kept, and the records after the first dropped are renumbered to
    stay contiguous: moto finds a record by its place. A reader that had one
    at its old number finds other content there and replays, which the local
    stack's poller does."""
    with _stream_lock:
        # The first one's place is its number's, or below if another
        # cancellation dropped records before it since.
        first = min(int(own[0].record["dynamodb"]["SequenceNumber"]) - shard.starting_sequence_number, len(shard.items) - 1)
        while first >= 0 and shard.items[first] is not own[0]:
            first -= 1
        if first < 0:
            return
        ids = {id(r) for r in own}
        kept = [r for r in shard.items[first:] if id(r) not in ids]
        for i, r in enumerate(kept):
            r.record["dynamodb"]["SequenceNumber"] = str(shard.starting_sequence_number + first + i)
        shard.items[first:] = kept
    if kept:
        logging.getLogger(__name__).warning("a cancelled transaction overlapped %d stream record(s) of other requests; kept", len(kept))


def _hash_sets(table):
    """The table's partitions, then each one's items, as lists: a copy of a
    dict's values is taken whole under the interpreter lock, so a write
    meanwhile cannot break the walk."""
    for hash_set in list(table.items.values()):
        if table.range_key_attr:
            yield from list(hash_set.values())
        else:
            yield hash_set


def _all_items(self):
    return sorted(_hash_sets(self), key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _has_idx_items(self, index_name):
    wanted = {i["AttributeName"] for i in self.get_index(index_name).schema}
    return [item for item in _hash_sets(self) if wanted.issubset(set(item.attrs))]


Table.all_items = _all_items
Table.has_idx_items = _has_idx_items
Table.__len__ = lambda self: sum(1 for _ in _hash_sets(self))


def _touched(backend, transact_items):
    """(table, hash, range) of every item a transaction names."""
    keys = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        try:
            table = backend.get_table(op["TableName"])
            attrs = op["Item"] if "Item" in op else op["Key"]
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.has_range_key else None
        except Exception:  # moto rejects it before writing anything
            continue
        keys.append((table, hash_key, range_key))
    return keys


def _backed_up(transact):
    @functools.wraps(transact)
    def run(self, transact_items):
        saved = []
        for table, hash_key, range_key in _touched(self, transact_items):
            had_hash = hash_key in table.items
            if range_key is None:
                item = table.items.get(hash_key)
            else:
                item = table.items[hash_key].get(range_key) if had_hash else None
            saved.append((table, hash_key, range_key, had_hash, copy.deepcopy(item)))
        shards = {id(t.stream_shard): t.stream_shard for t, *_ in saved if t.stream_shard is not None}
        _transaction.appended = appended = {}
        try:
            return transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, had_hash, item in reversed(saved):
                if range_key is None:
                    if item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                elif item is not None:
                    table.items[hash_key][range_key] = item
                elif hash_key in table.items:
                    table.items[hash_key].pop(range_key, None)
                    if not had_hash and not table.items[hash_key]:
                        del table.items[hash_key]
            for key, shard in shards.items():
                if appended.get(key):
                    _drop_records(shard, appended[key])
            raise
        finally:
            _transaction.appended = None
    return run


# moto's own backup (copy.deepcopy of each named table) made a no-op: the
# module's only deep copies of a Table are those backups.
dynamodb_models.copy = types.SimpleNamespace(
    deepcopy=lambda x, memo=None: x if isinstance(x, Table) else copy.deepcopy(x, memo))
DynamoDBBackend.transact_write_items = _backed_up(DynamoDBBackend.transact_write_items)


def _retained(self, queue_name, message):
    period = self.get_queue(queue_name).message_retention_period
    return int(period) + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _retained

_sending = threading.local()
_all_attributes = Queue.attributes


def _attributes(queue):
    if getattr(_sending, "standard", False) and not queue.fifo_queue:
        return {}
    return _all_attributes.fget(queue)


def _sent_cheaply(send):
    @functools.wraps(send)
    def run(self, *args, **kwargs):
        _sending.standard = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.standard = False
    return run


Queue.attributes = property(_attributes)
SQSBackend.send_message = _sent_cheaply(SQSBackend.send_message)


class _ReceivedSet(set):
    """moto's set of received messages: removing a message twice is harmless."""

    def remove(self, message):
        self.discard(message)


def _received(queue):
    if type(queue._pending_messages) is not _ReceivedSet:
        queue._pending_messages = _ReceivedSet(queue._pending_messages)
    return queue._pending_messages


Queue.pending_messages = property(_received)
Queue.pending_message_groups = property(
    lambda queue: {m.group_id for m in tuple(_received(queue)) if m.group_id is not None})

class _IdempotentParameterMismatch(DynamodbException):
    def __init__(self):
        super().__init__("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                         "The request uses the same client token as a previous, but non-identical request.")


_TOKEN_TTL = 600  # seconds: DynamoDB keeps a transaction's token this long
_tokens = {}  # client token -> (digest of the transaction's items, when it committed)
_tokens_lock = threading.Lock()


def _idempotent(handler):
    @functools.wraps(handler)
    def run(self):
        token = self.body.get("ClientRequestToken")
        if not token:
            return handler(self)
        digest = hashlib.sha256(json.dumps(self.body["TransactItems"], sort_keys=True).encode()).hexdigest()
        now = time.time()
        with _tokens_lock:
            for t in [t for t, (_, at) in _tokens.items() if now - at > _TOKEN_TTL]:
                del _tokens[t]
            seen = _tokens.get(token)
        if seen is not None:
            if seen[0] != digest:
                raise _IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = handler(self)
        with _tokens_lock:
            _tokens[token] = (digest, now)
        return result
    return run


DynamoHandler.transact_write_items = _idempotent(DynamoHandler.transact_write_items)

if __name__ == "__main__":
    main(sys.argv[1:])
