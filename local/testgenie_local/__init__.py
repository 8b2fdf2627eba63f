"""One-machine stack and CLI for Test Genie Serverless (not shipped to Lambda)."""
