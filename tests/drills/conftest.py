"""The drills' scenarios are run by the runner, not collected by this test session."""

collect_ignore_glob = ["scenarios/*"]
