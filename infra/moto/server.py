"""moto's server for the local stack, with two of its per-request costs
trimmed; everything else is moto's own server, unchanged.

- werkzeug's development server closes every connection, so each request
  starts a Python thread, and the accept loop waits on the interpreter lock
  for every start: with the default 5 ms switch interval that wait dominates
  a call's latency under load. A shorter interval hands the lock over sooner.
- moto lists its package directory on every request, under its global
  dispatch lock, to recognise a service name: listed once here (it cannot
  change while the server runs). Request lines are not logged (warnings and
  errors are).

And one fidelity fix: moto numbers a stream record from the shard's length
before appending it, so two writes in different request threads can take the
same sequence number (35 of 2,400 concurrent puts did). A stream poller then
reads from the wrong record for ever. DynamoDB never repeats one: appends to a
shard are serialized here.

Usage: python3 infra/moto/server.py [moto_server's arguments]
"""
import functools
import logging
import sys
import threading

from moto import backends
from moto.dynamodb.models.table import StreamShard
from moto.server import main

sys.setswitchinterval(0.0005)
_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _modules
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _serialized(add, lock=threading.Lock()):
    @functools.wraps(add)
    def locked(self, *args, **kwargs):
        with lock:
            return add(self, *args, **kwargs)
    return locked


StreamShard.add = _serialized(StreamShard.add)

if __name__ == "__main__":
    main(sys.argv[1:])
