"""Helpers the test suites share, imported by module (tests never import from a conftest).

- paths: the repository's folders and files the tests read
- events: real-shaped API Gateway v2 and SQS events, built from template.yaml's routes
- context: the one fake Lambda context
- records: a scriptable fake engine and execution record builders
- handlers: moto queues and a client that calls a handler with HTTP events
- stack: `testgenie serve` as a subprocess, spoken to over real HTTP (e2e, drills, browser)
- drills: what the reliability drills share (scenarios, fingerprints, raw reads of the tables)
- cloudformation: the template as data and the tools venv (SAM CLI, cfn-lint)
- browser: Chromium pages that record every error
- orchestrator: phase contexts and process helpers of the orchestrator tests
"""
