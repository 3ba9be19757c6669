"""Prompt texts shipped with rfactory; read them with importlib.resources."""
