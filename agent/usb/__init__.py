"""Removable-media control, platform-neutral: USBGuard-style rules, the decision and the usb.* events.

The enforcing backends (kernel uevents and sysfs on Linux, the registry and PnP on Windows) live under
agent/host/<os>/ behind agent.host.base.MediaControl.
"""
