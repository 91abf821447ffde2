"""devmentor-monitor: a terminal monitor and headless exporter for the DevMentor platform."""

from devmentor_monitor.asyncio_ssl import import_asyncio as _import_asyncio

__version__ = "0.1.0"

_import_asyncio()  # before any module of ours imports asyncio: see asyncio_ssl.py
