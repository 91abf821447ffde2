"""What tests share, in one place (tests/ is on sys.path, so `from support.x import y`):

* `waiting`: `eventually` (async), `wait_until` (blocking, the `wait` fixture) and `until`
  (a Textual pilot): poll with a deadline, never sleep.
* `clock`: `FakeClock`, for code that takes ``clock=``.
* `http`: HTTP stubs on loopback (`Receiver`, `HealthServer`); `kube_fake`: the
  Kubernetes API fake; `certs`: self-signed certificates.
* `processes`: the demo fleet in a thread and `--serve` subprocesses; `redis_server`,
  `podman`: real servers started and stopped by PID; `idle_flood`: idle connections.
* `headless`: which modules a headless entry point loads.

The fixtures themselves are in tests/conftest.py.
"""
