"""Heater: a registry for OpenStack Heat templates and VM image manifests."""

__version__ = "0.1.0"
