"""Test Genie Serverless core layer: domain logic shared by the Lambda functions."""

__version__ = "0.1.0"
