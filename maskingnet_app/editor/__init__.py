"""The editor: photo list, canvas, tools, the session of open photos, autosaved corrections."""
