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

Usage: python3 infra/moto/server.py [moto_server's arguments]
"""
import logging
import sys

from moto import backends
from moto.server import main

sys.setswitchinterval(0.0005)
_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _modules
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    main(sys.argv[1:])
