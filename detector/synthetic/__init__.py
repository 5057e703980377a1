"""A synthetic year of declarations with known fraud: the demo's data and the tests'."""

from detector.synthetic.generate import GeneratorConfig, generate_declarations

__all__ = ["GeneratorConfig", "generate_declarations"]
