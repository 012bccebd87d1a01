"""Forwarding to a SOC's SIEM (syslog RFC 5424, JSON or CEF) and mail alerts, through a durable outbox."""
