"""Renderers: report model -> JSON, HTML, PDF. They never look at packets."""
