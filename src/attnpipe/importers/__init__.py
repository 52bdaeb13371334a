"""Importers: real models' numbers into attnpipe's input files (each with its own optional extra)."""
