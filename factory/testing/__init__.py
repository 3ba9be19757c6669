"""Test helpers that ship with rfactory: fault-injecting OpenAI-compatible and Hub-compatible servers."""
