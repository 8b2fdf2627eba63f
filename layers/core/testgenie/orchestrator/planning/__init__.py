"""Planning: the phase catalog, a scenario's testing.json and the rules that turn a request into
the plan of exactly what runs (before anything is claimed)."""
