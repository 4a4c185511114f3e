"""The machine-readable spec (``spec/*.yaml``): typed, validated, bounded.

- :mod:`.loader`: reading YAML safely, JSON Schema validation, :func:`load_spec` -> :class:`Spec`
- :mod:`.types`, :mod:`.parameters`, :mod:`.node`: frozen typed views of the documents
- :mod:`.checks`, :mod:`.cross`: what a schema cannot express, in one document and across documents
- :mod:`.shapes`: symbolic shapes and small expressions, parsed without eval
"""

from .loader import Spec, load_document, load_spec, spec_dir, validate_path

__all__ = ["Spec", "load_document", "load_spec", "spec_dir", "validate_path"]
