"""Exporting from the editor: settings, the export dialog, the listing dialog, the writer."""
