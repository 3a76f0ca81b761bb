"""The running process: the daemon's resources and children (``daemon``), the supervisor and
its restart policy, systemd's notify protocol, logs and metrics."""
