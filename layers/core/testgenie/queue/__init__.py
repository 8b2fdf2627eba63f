"""Suite requests: the queue of asked-for runs and their state machine."""
