"""The runner: where scenario code runs, holding no keys (docs/architecture.md, "The runner")."""
