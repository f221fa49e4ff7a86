"""The Wireshark plugin (progjar.lua), its profile, and `progjar dissector install|uninstall|path`."""
