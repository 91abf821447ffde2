"""Command line: `--serve`, `ultra`, `status`, `config check`, `init`, `demo`, `detect`,
`emit`, `silence`, `report`, `audit`, `data erase`.

Exit codes: 0 ok, 1 runtime failure (or a service down for `status`), 2 usage or config.
No traceback reaches the user: errors are one sentence on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec.structs import replace

from devmentor_monitor import __version__, audit_cli, exports
from devmentor_monitor.config.locate import (
    CONFIG_NAME,
    LOOKUP_ORDER,
    locate_config,
    packaged_config,
    user_config_dir,
)
from devmentor_monitor.config.schema import (
    Config,
    ConfigError,
    TlsSettings,
    data_dir,
    is_loopback,
    is_self,
    load_config,
)
from devmentor_monitor.events import emit_cli as emit
from devmentor_monitor.gc_settings import freeze_once_warm, sweep_every
from devmentor_monitor.incidents import silence_cli
from devmentor_monitor.logs import mask, mask_url, setup_logging
from devmentor_monitor.predictions import detect_cli
from devmentor_monitor.reports import report_cli
from devmentor_monitor.server import keys_cli
from devmentor_monitor.server.tls_error import TlsError
from devmentor_monitor.storage import erase_cli, migrate_cli

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.demo.fleet import DemoFleet
    from devmentor_monitor.first_checks import FirstChecks
    from devmentor_monitor.model import SystemSample
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.runtime import Monitor
    from devmentor_monitor.store import Store

PROG = "devmentor-monitor"
log = logging.getLogger("devmentor_monitor.cli")


class UsageError(Exception):
    """Bad command line; exit code 2."""


# --------------------------------------------------------------------------- parser


# Each command lists only the options it uses (`emit --help` has no --demo). The top
# level takes them all, for `--serve`; on a sub-command an option's default is SUPPRESS,
# so `devmentor-monitor --port 3010 ultra` keeps the top-level value.


def _common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    """Options of every command that reads the services file: which file, how verbose."""
    d = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "-c",
        "--config",
        default=d,
        metavar="FILE",
        help="services file (default: $SERVICES_CONFIG, ./services.yaml, "
        "$XDG_CONFIG_HOME/devmentor-monitor/services.yaml, else the packaged default)",
    )
    parser.add_argument(
        "--log-level",
        default=d if sub else "info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity",
    )


def _demo_option(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    """For the commands that watch services: a simulated fleet can stand in for them."""
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if sub else False,
        help="watch a built-in fleet of simulated services on loopback",
    )


def _serving_options(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    """For the commands that run the exporter and keep incidents."""
    d = argparse.SUPPRESS if sub else None
    parser.add_argument("--host", default=d, help="exporter bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=d, help="exporter port (default $MONITORING_PORT, else 3006)"
    )
    parser.add_argument(
        "--data-dir",
        default=d,
        metavar="DIR",
        help="where incidents and the audit trail are kept "
        "(default $XDG_STATE_HOME/devmentor-monitor)",
    )
    parser.add_argument(
        "--tls-cert",
        default=d,
        metavar="FILE",
        help="serve HTTPS with this PEM certificate (server.tls.cert; reloaded on SIGHUP)",
    )
    parser.add_argument(
        "--tls-key",
        default=d,
        metavar="FILE",
        help="the certificate's PEM private key (server.tls.key)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=d if sub else False,
        help="allow a non-loopback --host with no API keys configured",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=d if sub else False,
        help="refuse every write and action, from the API and the dashboard "
        "(server.read_only), for shared screens",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {text!r}")
    return value


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command="ultra"`` only that subcommand is added: the
    dashboard's start does not pay for the other commands' arguments (~7 ms of CPU
    before its first frame, argparse building a formatter and looking up gettext per
    argument). Its namespace and messages are the same."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Terminal monitor and headless exporter for the DevMentor platform.",
        epilog="Run `devmentor-monitor --serve --demo` to see it work with nothing else "
        "running. Exit codes: 0 ok, 1 runtime failure or service down, 2 usage/config.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="run headless: pollers plus the HTTP exporter (/metrics, /api)",
    )
    for add in (_common, _demo_option, _serving_options):
        add(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")

    ultra = subs.add_parser(
        "ultra",
        help="full-screen terminal dashboard",
        description="Full-screen terminal dashboard.",
    )
    for add in (_common, _demo_option, _serving_options):
        add(ultra, sub=True)
    ultra.add_argument(
        "--no-serve", action="store_true", help="do not run the embedded HTTP exporter"
    )
    ultra.add_argument("--theme", help="theme name from themes/ (default dark)")
    if command == "ultra":
        return parser

    status = subs.add_parser(
        "status",
        help="check everything once, print a table, exit",
        description="Check every service once and the host, print a "
        "table, exit 1 if any service is down.",
    )
    _common(status, sub=True)
    _demo_option(status, sub=True)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    config = subs.add_parser(
        "config", help="configuration tools", description="Configuration tools."
    )
    config_subs = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = config_subs.add_parser(
        "check",
        help="validate a file, print the effective config",
        description="Validate a services file (with the "
        "environment applied) and print the effective "
        "configuration.",
    )
    check.add_argument("file", nargs="?", help="file to check (default as for --config)")

    init = subs.add_parser(
        "init",
        help="write a commented starter services.yaml",
        description="Write a commented starter services file (a copy of the packaged "
        "default) where the monitor finds it: $XDG_CONFIG_HOME/devmentor-monitor/"
        "services.yaml unless --path says otherwise.",
    )
    init.add_argument("--path", metavar="FILE", help="where to write it")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    demo = subs.add_parser(
        "demo",
        help="run only the simulated fleet",
        description="Run simulated DevMentor services on loopback until "
        "interrupted, and print their URLs.",
    )
    demo.add_argument(
        "--count",
        type=int,
        default=0,
        help="serve N generic endpoints (/svc/<i>/health) on one port instead",
    )
    demo.add_argument(
        "--latency-ms",
        type=float,
        default=2.0,
        help="latency of the generic endpoints (with --count)",
    )
    demo.add_argument(
        "--port", type=_port, default=None, help="port for --count endpoints (default: a free one)"
    )
    detect_cli.add_parser(subs)
    emit.add_parser(subs, _common)
    silence_cli.add_parser(subs, _common)
    exports.add_parsers(subs, _common)
    report_cli.add_parser(subs, _common)
    keys_cli.add_parser(subs, _common)
    audit_cli.add_parser(subs, _common)
    erase_cli.add_parser(subs, _common)
    migrate_cli.add_parser(subs, _common)
    return parser


# --------------------------------------------------------------------------- commands


def _serves(args: argparse.Namespace) -> bool:
    """Whether this run listens: `--serve`, or `ultra` with its embedded exporter."""
    if args.command == "ultra":
        return not args.no_serve
    return args.command is None and bool(getattr(args, "serve", False))


def _load(args: argparse.Namespace) -> Config:
    cfg = load_config(
        getattr(args, "config", None),
        os.environ,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        read_only=bool(getattr(args, "read_only", False)),
    )
    if getattr(args, "data_dir", None):
        cfg = replace(cfg, data_dir=args.data_dir)
    cfg = _tls_flags(cfg, args)
    host = cfg.server.host
    loopback = is_loopback(host)
    if _serves(args) and not loopback and not cfg.server.tls and cfg.server.require_tls:
        raise UsageError(
            f"refusing to serve plain HTTP on {host}: server.require_tls is set; "
            "configure server.tls (cert, key) or pass --tls-cert and --tls-key"
        )
    if _serves(args) and not loopback and not cfg.api_keys and not getattr(args, "insecure", False):
        raise UsageError(
            f"refusing to serve on {host} with no API keys configured: anyone "
            "who can reach it could write; add auth.keys (or "
            "DEVMENTOR_API_KEYS), or pass --insecure"
        )
    if _serves(args) and cfg.server.tls is not None:
        _check_tls(cfg, args)
    return cfg


def _tls_flags(cfg: Config, args: argparse.Namespace) -> Config:
    """--tls-cert/--tls-key over server.tls (its client_ca kept); both, unless the file
    gives the other."""
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if cert is None and key is None:
        return cfg
    tls = cfg.server.tls
    if tls is None and (cert is None or key is None):
        given, other = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise UsageError(f"{given} needs {other} (or server.tls in the config)")
    tls = TlsSettings(
        cert=cert or (tls.cert if tls else ""),
        key=key or (tls.key if tls else ""),
        client_ca=tls.client_ca if tls else None,
    )
    flags = tuple(f for f, v in (("flag --tls-cert", cert), ("flag --tls-key", key)) if v)
    return replace(cfg, server=replace(cfg.server, tls=tls), overrides=cfg.overrides + flags)


def _check_tls(cfg: Config, args: argparse.Namespace) -> None:
    """Load the TLS files once before anything starts: a bad one is a config error (exit
    2) naming the setting and the file, and where the setting came from."""
    from devmentor_monitor.server.tls import server_context  # imports ssl: only with TLS

    assert cfg.server.tls is not None
    try:
        server_context(cfg.server.tls)
    except TlsError as exc:
        flag = {"server.tls.cert": "tls_cert", "server.tls.key": "tls_key"}.get(exc.key)
        source = f"flag --{flag.replace('_', '-')}" if flag and getattr(args, flag, None) else None
        raise ConfigError(
            source or cfg.source, None, exc.key, f"{exc.path}: {exc.message}"
        ) from None


async def _with_demo(cfg: Config, *, serving: bool) -> tuple[DemoFleet, Config]:
    """Start the simulated fleet; returns it and the config pointing at it (not importing
    the runtime: `ultra` starts the fleet before it)."""
    from devmentor_monitor.demo.fleet import DemoFleet

    names = [
        s.name for s in cfg.services if s.url is not None and not (serving and is_self(s.url, cfg))
    ]
    fleet = DemoFleet(names)
    await fleet.start()
    urls = fleet.urls
    services = tuple(
        replace(s, url=urls.get(s.name, s.url)) if s.url is not None else s for s in cfg.services
    )
    return fleet, replace(cfg, services=services)


def freeze_startup() -> None:
    """Once start-up is over (config, runtime, first frame): its objects leave the cycle
    collector's generations, as they live as long as the process.

    A full collection walks every live object: at 1,000 services (configs, summaries,
    rings, the TUI's widgets) the automatic ones took ~80 ms each on the loop, ~15 ms
    with the start-up objects frozen (bench/gc_pause.py, two runs side by side: 83 -> 15,
    79 -> 15 ms median). A 10x gen-0 threshold made it worse there (/api/services render
    p99 3.7 -> 14 ms: fewer, longer young collections), so the thresholds stay. Garbage
    made so far is collected first, so none of it is frozen for good. The collector runs
    again from here if `ultra` had held it off for its start (`hold_collector`). What the
    first minute builds per service is frozen later (gc_settings.freeze_once_warm)."""
    gc.collect()
    gc.freeze()
    gc.enable()
    freeze_once_warm()


def hold_collector() -> None:
    """No cycle collection until `freeze_startup`: `ultra`'s start-up (imports, first
    frame, runtime) makes objects that live as long as the process, and the collections
    they set off walked them all for nothing: ~45 ms of CPU before the first frame, ~60 ms
    before the first values (of ~0.7 s; gc.callbacks timed in a tmux start)."""
    gc.disable()


async def _serve(cfg: Config, demo: bool) -> int:
    from devmentor_monitor.runtime import Monitor

    fleet = None
    if demo:
        fleet, cfg = await _with_demo(cfg, serving=True)
        log.info("demo fleet started", extra={"fields": fleet.urls})
    monitor = Monitor(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await monitor.start()
    except TlsError as exc:  # a file replaced since _load read it
        print(f"{PROG}: config error: {cfg.source}: {exc}", file=sys.stderr)
        if fleet:
            await fleet.stop()
        return 2
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"{PROG}: error: cannot listen on {cfg.server.host}:{cfg.server.port}: {reason} "
            "(use --port or MONITORING_PORT)",
            file=sys.stderr,
        )
        if fleet:
            await fleet.stop()
        return 1
    if monitor.server is not None and monitor.server.tls is not None:
        _reload_on_hangup(loop, monitor.server.reload_tls)
    freeze_startup()
    await stop.wait()
    log.info("shutting down")
    try:
        async with asyncio.timeout(1.5):
            await monitor.stop()
    except TimeoutError:
        log.warning("shutdown took over 1.5 s; exiting anyway")
    if fleet:
        await fleet.stop()
    return 0


def _reload_on_hangup(
    loop: asyncio.AbstractEventLoop, reload: Callable[[], Coroutine[Any, Any, bool]]
) -> None:
    """SIGHUP reads the TLS certificate, key and client CA again, as nginx and
    Prometheus do; the process and its open connections stay."""
    running: set[asyncio.Task[bool]] = set()

    def hangup() -> None:
        log.info("SIGHUP: reloading the TLS certificate")
        task = loop.create_task(reload())
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)


STATUS_WINDOW = 0.5  # seconds `status` measures CPU and I/O rates over


def _host_sample(window: float) -> SystemSample:
    """Two reads ``window`` apart (in a worker thread, while the checks run): CPU, process
    CPU and I/O rates are differences, and one read alone has nothing to differ from."""
    from devmentor_monitor.system.sampler import SystemReader

    reader = SystemReader(processes_interval=0.0)
    reader.read()
    time.sleep(window)
    return reader.read()


async def _status(cfg: Config, demo: bool, as_json: bool) -> int:
    from devmentor_monitor.health.checker import HealthChecker
    from devmentor_monitor.store import Store

    fleet = None
    if demo:
        fleet, cfg = await _with_demo(cfg, serving=False)
    try:
        checker = HealthChecker(cfg.health.max_in_flight)
        host = asyncio.create_task(asyncio.to_thread(_host_sample, STATUS_WINDOW))
        # A heartbeat service has nothing to probe: it stays unknown here.
        probed = [s for s in cfg.services if s.url is not None]
        results = await asyncio.gather(*(checker.check(s) for s in probed))
        await checker.close()
        sample = await host
    finally:
        if fleet:
            await fleet.stop()
    store = Store(cfg)
    for result in results:
        store.record_check(result)
    store.record_system(sample)
    if as_json:
        from devmentor_monitor.server.shapes import service_json, system_json

        print(
            json.dumps(
                {
                    "services": [service_json(s) for s in store.services()],
                    "counts": store.counts(),
                    "host": system_json(sample),
                },
                indent=2,
            )
        )
    else:
        from devmentor_monitor.status_table import print_status

        print_status(store, sample)
    return 1 if store.any_down() else 0


def _config_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file or getattr(args, "config", None), os.environ)
    text = mask(json.dumps(_shown_config(cfg), indent=2, default=str))
    secrets = [v for svc in cfg.services for _, v in svc.headers]  # usually credentials
    secrets += [v for svc in cfg.services if svc.metrics for _, v in svc.metrics.headers]
    secrets += [k.key for k in cfg.api_keys]
    secrets += [v for ch in cfg.notifications.channels for v in ch.secrets]
    for value in sorted(secrets, key=len, reverse=True):  # whole values, then fragments
        text = text.replace(json.dumps(value), '"***"').replace(value, "***")
    print(f"{cfg.source}: OK, {len(cfg.services)} services")
    print(f"found by: {cfg.found_by} (lookup order: {', '.join(LOOKUP_ORDER)})")
    if cfg.overrides:
        print("overridden by: " + ", ".join(cfg.overrides))
    print(text)
    return 0


def _init(args: argparse.Namespace) -> int:
    """Copy the packaged default, with a note on top, to where the lookup order finds it."""
    path = Path(args.path) if args.path else user_config_dir(os.environ) / CONFIG_NAME
    note = (
        "# Written by `devmentor-monitor init` from the packaged default; edit freely.\n"
        "# `devmentor-monitor config check` validates it and says which file is in use.\n"
    )
    text = note + packaged_config().read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if args.force else "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise UsageError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    found = locate_config(None, os.environ)
    print(f"wrote {path}")
    if found.path.resolve() != path.resolve():
        print(f"it is not the file in use ({found.path}, {found.found_by}): pass --config {path}")
    return 0


def _fields(value: Any) -> Any:
    """A Struct as nested dicts keyed by field name (not by the file's key names)."""
    if isinstance(value, msgspec.Struct):
        return {name: _fields(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple):
        return [_fields(v) for v in value]
    return value


def _shown_config(cfg: Config) -> dict[str, Any]:
    """The effective config with its URLs as every other read shows them (mask_url); a
    recovery webhook's path is hidden too, since that is where its token lives."""
    data: dict[str, Any] = _fields(cfg)
    for svc in data["services"]:
        if svc["url"]:  # None: a heartbeat service
            svc["url"] = mask_url(svc["url"])
        recovery = svc["recovery"]
        if recovery and recovery["webhook"]:
            recovery["webhook"] = mask_url(recovery["webhook"], path=True)
    for url in ("redis_url", "storage_url"):
        if data[url]:
            data[url] = mask_url(data[url])
    return data


async def _demo(args: argparse.Namespace) -> int:
    from devmentor_monitor.demo.fleet import DemoFleet, ManyEndpoints

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.count:
        many = ManyEndpoints(args.count, args.latency_ms)
        if args.port:
            many.port = args.port
        await many.start()
        print(
            json.dumps(
                {"count": args.count, "url_pattern": many.url(0).replace("/svc/0/", "/svc/{i}/")}
            ),
            flush=True,
        )
        await stop.wait()
        await many.stop()
        return 0
    fleet = DemoFleet()
    await fleet.start()
    print(json.dumps(fleet.urls), flush=True)
    await stop.wait()
    await fleet.stop()
    return 0


class UltraRuntime:
    """The dashboard's runtime: the same `Monitor` as `--serve` over the app's store (and
    the demo fleet with --demo), built here so the TUI never imports the runtime. The app
    calls `first_checks` after its first frame, then `start` once their results are drawn:
    the runtime's imports wait until then."""

    def __init__(self, config: Config, *, demo: bool, serve: bool, freeze: bool = False) -> None:
        self.config, self.demo, self.serve = config, demo, serve
        self.freeze = freeze  # freeze_startup once up (the process's, not a test's)
        self.monitor: Monitor | None = None
        self._fleet: DemoFleet | None = None
        self._first: FirstChecks | None = None
        self._sweep: asyncio.Task[None] | None = None

    async def first_checks(self, store: Store) -> None:
        """The first round of health checks (and the demo fleet they check), until their
        results are in: the rest of the runtime (~0.1 s of imports and set-up on this loop,
        bench/tui_load.py) is imported after them, in `start`."""
        from devmentor_monitor.first_checks import FirstChecks

        if self.demo and self._fleet is None:
            self._fleet, self.config = await _with_demo(self.config, serving=self.serve)
        self._first = FirstChecks(self.config, store)
        self._first.start()
        await self._first.first_round()

    async def start(self, store: Store) -> tuple[Commands, Queries]:
        first, self._first = self._first, None  # the monitor's, stopped with it
        try:
            if self.demo and self._fleet is None:
                self._fleet, self.config = await _with_demo(self.config, serving=self.serve)
            from devmentor_monitor.runtime import Monitor

            self.monitor = Monitor(self.config, serve=self.serve, store=store, first=first)
            await self.monitor.start(require_server=False)
        except BaseException:
            if first is not None and self.monitor is None:
                await first.stop()
            raise
        finally:  # started or not, the collector runs again (see hold_collector)
            if self.freeze:
                freeze_startup()
                self._sweep = sweep_every()  # the TUI's cycles (gc_settings.SWEEP_S)
        return self.monitor.commands, self.monitor.queries

    async def stop(self) -> None:
        if self._first is not None:  # started, never adopted by a monitor
            await self._first.stop()
            self._first = None
        if self._sweep is not None:
            self._sweep.cancel()
        if self.monitor is not None:
            await self.monitor.stop()
        if self._fleet is not None:
            await self._fleet.stop()
            self._fleet = None


def _ultra(args: argparse.Namespace, cfg: Config) -> int:
    # The screen is the terminal now: log lines go to a file, never over the dashboard.
    log_path = data_dir(cfg) / "ultra.log"
    try:
        from devmentor_monitor.storage.files import FILE_MODE, private_dir

        private_dir(log_path.parent)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        stream = open(fd, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    except OSError:
        stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    setup_logging(getattr(args, "log_level", "info") or "info", stream=stream)
    hold_collector()  # until the runtime is up: UltraRuntime.start(freeze=True)
    try:
        from devmentor_monitor.tui.app import run_tui
        from devmentor_monitor.tui.keys import KeymapError
        from devmentor_monitor.tui.themes import ThemeError
    except ImportError:
        raise UsageError(
            "`ultra` needs the TUI, which is not built yet; use `--serve` or `status`"
        ) from None
    runtime = UltraRuntime(cfg, demo=args.demo, serve=not args.no_serve, freeze=True)
    try:
        # asyncio's own loop, not uvloop (run_fast): uvloop is ~2 MiB of RSS in every `ultra`
        # (its module, its loop's buffers) and saves CPU only on a busy loop. Side by side
        # in tmux 160x50 (2026-11-29, fresh processes, 60 s windows after warm-up):
        # `ultra --demo` 55.2 MiB with uvloop, 53.3 without, CPU 1.68 vs 1.75 % of a core;
        # `ultra` at 1,000 services (10 s checks, nobody scraping) 74.4 / 72.9 MiB with it,
        # 72.5 / 71.3 without, CPU 8.2 / 8.0 % with it, 8.8 / 8.6 % without. Issue 19's RSS
        # targets (48 MiB with --demo, 75 at 1,000) are the tighter ones: the TUI goes
        # without. `--serve` keeps it (its exporter's throughput).
        return run_tui(cfg, runtime, theme=args.theme, run=asyncio.run)
    except (ThemeError, KeymapError) as exc:
        raise UsageError(str(exc)) from None


def run_fast(coro: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed: /metrics serves about a third more requests."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def run(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser("ultra" if argv[:1] == ["ultra"] else None)
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log_level", "info") or "info")
    if args.command == "config":
        if args.config_command != "check":
            parser.parse_args(["config", "--help"])
        return _config_check(args)
    if args.command == "init":
        return _init(args)
    if args.command == "demo":
        return asyncio.run(_demo(args))
    if args.command == "detect":
        return detect_cli.run(args)
    if args.command in exports.COMMANDS:
        return exports.run(args, lambda: _load(args))
    if args.command == "report":  # offline: the data dir's files, read-only
        return report_cli.run(args, lambda: _load(args))
    if args.command == "keys":  # offline: the data dir's monitor.db
        return keys_cli.run(args, lambda: _load(args), UsageError)
    if args.command == "audit":  # offline: the data dir's monitor.db, read-only
        return audit_cli.run(args, lambda: _load(args), UsageError)
    if args.command == "db":  # the incidents store: migrations
        return migrate_cli.run(args, lambda: _load(args), UsageError)
    if args.command == "data":  # offline: the data dir's files
        return erase_cli.run(args, lambda: _load(args), UsageError)
    if args.command == "silence":  # a client of the running monitor: the config gives its port
        return silence_cli.run(args, lambda: _load(args), UsageError)
    cfg = _load(args)
    if args.command == "status":
        return asyncio.run(_status(cfg, args.demo, args.json))
    if args.command == "emit":
        return emit.run(args, cfg, UsageError)
    if args.command == "ultra":
        return _ultra(args, cfg)
    if args.serve:
        return run_fast(_serve(cfg, args.demo))
    parser.print_help(sys.stderr)
    return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not fail on the closed pipe
    again (the recipe in Python's signal module documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except ConfigError as exc:
        for error in exc.errors:  # one line each, every one found
            print(f"{PROG}: config error: {mask(str(error))}", file=sys.stderr)
        if getattr(exc, "capped", False):
            print(
                f"{PROG}: config error: stopped after {len(exc.errors)} errors; fix these "
                "and run again",
                file=sys.stderr,
            )
        return 2
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `status --json | head`: the reader has all it wanted
        _silence_stdout()
        return 1
    except Exception as exc:  # the last line of defence: one sentence, no traceback
        from devmentor_monitor.storage.db import (
            StorageError,  # imported here: sqlite3 only when needed
        )

        if isinstance(exc, StorageError):
            print(f"{PROG}: storage error: {exc}", file=sys.stderr)
            return 1
        logging.getLogger(PROG).debug("internal error", exc_info=exc)
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {mask(str(exc))} "
            "(run with --log-level debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
