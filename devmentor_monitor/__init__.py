"""devmentor-monitor: a terminal monitor and headless exporter for the DevMentor platform."""

__version__ = "0.1.0"
