"""Removable-media control: USBGuard-style rules, the decision, the guard and the export log."""
