"""The durable engine: a pure run state machine and the driver loop that does the I/O."""
