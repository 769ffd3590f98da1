"""File and activity policies: the YAML model, its loading, the set's version, and matching."""
