"""The suite orchestrator: phase catalog, planning, runners and workspaces."""
