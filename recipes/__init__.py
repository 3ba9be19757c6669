"""Built-in recipes shipped with rfactory; read them with importlib.resources."""
