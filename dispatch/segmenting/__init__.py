"""Segments: YAML definitions compiled to SQL that always carries the contact policy.

``spec`` parses and checks a file into the typed ``tree``, ``references`` resolves
what it names in the register, ``compiler`` builds the SQL, and ``services`` is the
public way to use a segment (check, count, explain, why, select). See
``docs/segments.md``.
"""
