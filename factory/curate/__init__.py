"""Curation: duplicate problems, benchmark contamination, difficulty bands, majority labels."""
