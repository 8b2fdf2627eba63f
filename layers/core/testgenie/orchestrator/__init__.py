"""The suite orchestrator, in rooms: planning/ (catalog, testing.json, the plan), run/ (the run loop
and its workspace), sources/ (where scenarios come from), phases/ (what each phase kind does)."""
