"""Helpers shared by the test suites (the sandbox process harness)."""
