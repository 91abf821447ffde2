"""The full-screen dashboard. The only package that imports textual (DESIGN.md, rule 1)."""
