"""Reading and writing: the canonical schema, profiles, validation, outputs, model files."""
