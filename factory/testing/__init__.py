"""Test helpers that ship with rfactory: a fault-injecting OpenAI-compatible server."""
